package ingest

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/eldersafe/eldersafe/registry"
)

// deviceCache holds what ingest needs of every registered device, by id:
// with a million households, five to nine million entries. Nothing in it
// is a pointer but the rare device's otherFields: the collector, which
// marks the live heap at every cycle, skips it whole. As a map of id
// strings to structs of strings it took 107 bytes a device and was 40 %
// of what a collection marked at 1,000,000 households; late in an import
// of them the collector took half the CPU (docs/performance.md, "Import,
// fifth round").
//
// Ids are hashed with xxhash, unseeded, where a seeded maphash would do:
// the snapshot keeps the cache as it is (image.go), and a restart reads it
// back without hashing five million ids again. No seed costs nothing: only
// operators register devices, and an id nobody registered is looked for,
// never stored.
type deviceCache struct {
	shards []deviceShard
	// layout orders the shards' replacement by an image's parts, loaded
	// at once.
	layout sync.Mutex
}

// minShards is how many shards a cache has at least: enough that ingest's
// goroutines seldom wait on each other.
const minShards = 64

// deviceShard holds the devices whose ids hash to it. A device is a slot,
// which index finds by its id's 64-bit hash.
type deviceShard struct {
	mu    sync.RWMutex
	index deviceIndex
	slots []cachedDevice
	free  []uint32 // slots of removed devices
	// text holds the slots' ids and household ids, each after its length
	// in a byte, appended and never written again: a household id is
	// handed out as a string over its bytes. A removed device's bytes stay
	// until the process ends.
	text   [][]byte      // blocks of textBlock bytes
	seen   seenBlocks    // by cachedDevice.seen - 1
	others []otherFields // by cachedDevice.other - 1
}

// seenBlocks are the shard's duplicate filters, in blocks of seenBlock: as
// one slice, grown by a quarter at a time, they held about a fifth more
// than the filters in use (4 MB of 20 at 100,000 households,
// docs/performance.md, "Memory, eighth round"); blocks leave at most one
// partly used.
type seenBlocks struct {
	blocks [][]seen
	n      uint32
}

// seenBlock is how many filters a block holds: 3 KiB.
const seenBlock = 128

func (b *seenBlocks) at(i uint32) *seen { return &b.blocks[i/seenBlock][i%seenBlock] }

// add gives a new, empty filter, and its index plus one.
func (b *seenBlocks) add() uint32 {
	if b.n%seenBlock == 0 {
		b.blocks = append(b.blocks, make([]seen, seenBlock))
	}
	b.n++
	return b.n
}

// cachedDevice is a registry.Device without its secret's hash (never
// cached), with its duplicate filter: 20 bytes and its ids' text.
type cachedDevice struct {
	// id and household are where their text is (deviceShard.textAt).
	id, household uint32
	// other is 1 + the index of what only some devices have: a source
	// other than native, a gateway, an expected interval, a kind not in
	// cachedKinds. 0 for most. A removed device's slot, taken again,
	// keeps it for its next device that needs one.
	other uint32
	// seen is 1 + the index of the device's last accepted messages, given
	// at its first accepted message, not with the entry: at a restart of
	// 5,000,000 devices, 640 MB and 3 CPU-seconds before /readyz
	// (docs/performance.md). Kept with the slot as other is.
	seen uint32
	// kind is 1 + its index in cachedKinds; 0: other's kind.
	kind uint8
}

type otherFields struct {
	kind                   registry.DeviceKind
	source                 registry.Source
	sourceTopic, gatewayID string
	expectedEvery          time.Duration
}

// cachedKinds are the kinds a cached device keeps as a byte.
var cachedKinds = append(slices.Clone(registry.DeviceKinds), registry.Gateway)

func newDeviceCache() *deviceCache {
	return &deviceCache{shards: make([]deviceShard, minShards)}
}

// shard is the shard of id, and id's hash.
func (c *deviceCache) shard(id string) (*deviceShard, uint64) {
	h := xxhash.Sum64String(id)
	return &c.shards[h%uint64(len(c.shards))], h
}

// textBlockBits: a shard's text is kept in blocks of 64 KiB, and a text's
// place is its block in the bits above these and its offset in them.
const (
	textBlockBits = 16
	textBlock     = 1 << textBlockBits
)

// textAt is the string whose length byte is at at, over the shard's
// bytes: they are never written again, so the string stays what it is,
// and keeps them alive while in use.
func (s *deviceShard) textAt(at uint32) string {
	if at == 0 {
		return ""
	}
	block, off := s.text[at>>textBlockBits], at&(textBlock-1)
	n := int(block[off])
	if n == 0 {
		return ""
	}
	return unsafe.String(&block[off+1], n)
}

// addText appends str (at most 255 bytes) after its length, and says where.
// Only the first block grows by copying: a restart appends ten million ids,
// and one growing slice of them copied each byte again at every doubling
// (7 % of a restart's CPU at 1,000,000 households).
func (s *deviceShard) addText(str string) uint32 {
	last := len(s.text) - 1
	switch {
	case last < 0:
		s.text = [][]byte{{0}} // at 0: the empty string, a slot's zero value
		last = 0
	case len(s.text[last])+1+len(str) > textBlock:
		s.text = append(s.text, make([]byte, 0, textBlock))
		last++
	}
	at := uint32(last<<textBlockBits | len(s.text[last]))
	s.text[last] = append(append(s.text[last], byte(len(str))), str...)
	return at
}

// find is the slot of id, of hash h.
func (s *deviceShard) find(id string, h uint64) (uint32, bool) {
	x := &s.index
	if len(x.entries) == 0 {
		return 0, false
	}
	mask, t := len(x.entries)-1, tag(h)
	for i := x.home(h); ; i = (i + 1) & mask {
		switch e := x.entries[i]; {
		case e.slot == 0:
			return 0, false
		case e.slot != tombstone && e.tag == t && s.textAt(s.slots[e.slot-1].id) == id:
			return e.slot - 1, true
		}
	}
}

// hashOf is the hash of slot's id.
func (s *deviceShard) hashOf(slot uint32) uint64 {
	return xxhash.Sum64String(s.textAt(s.slots[slot].id))
}

func (c *deviceCache) store(d registry.Device) {
	if len(d.ID) > registry.MaxLen[registry.KindID] || len(d.HouseholdID) > registry.MaxLen[registry.KindID] {
		return // not a registered device: registry.ValidateID refuses it
	}
	kind := uint8(slices.Index(cachedKinds, d.Kind) + 1)
	var other *otherFields
	if kind == 0 || !d.Native() || d.GatewayID != "" || d.ExpectedEvery != 0 {
		other = &otherFields{source: d.Source, sourceTopic: d.SourceTopic, gatewayID: d.GatewayID, expectedEvery: d.ExpectedEvery}
		if kind == 0 {
			other.kind = d.Kind
		}
	}
	s, h := c.shard(d.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	cd := &s.slots[s.put(d.ID, h)]
	// A device stored again (its expected interval changed) keeps its
	// text and what it sent.
	if s.textAt(cd.household) != d.HouseholdID {
		cd.household = s.addText(d.HouseholdID)
	}
	cd.kind = kind
	switch {
	case other == nil:
		if cd.other > 0 {
			s.others[cd.other-1] = otherFields{}
		}
	case cd.other > 0:
		s.others[cd.other-1] = *other
	default:
		s.others = append(s.others, *other)
		cd.other = uint32(len(s.others))
	}
}

// put is the slot of id, of hash h, given one if it has none.
func (s *deviceShard) put(id string, h uint64) uint32 {
	if i, ok := s.find(id, h); ok {
		return i
	}
	i := s.newSlot(id)
	s.index.insert(h, i, s.hashOf)
	return i
}

// newSlot gives id a slot: a removed device's, or a new one.
func (s *deviceShard) newSlot(id string) uint32 {
	var i uint32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
		if cd := &s.slots[i]; cd.seen > 0 {
			*s.seen.at(cd.seen - 1) = seen{}
		}
	} else {
		s.slots = append(s.slots, cachedDevice{})
		i = uint32(len(s.slots) - 1)
	}
	s.slots[i].id, s.slots[i].household = s.addText(id), 0
	return i
}

// duplicate reports whether the device accepted a message of fingerprint
// fp (dedupe.go) among its last ones; an unknown device has accepted none.
func (c *deviceCache) duplicate(id string, fp uint64) bool {
	s, h := c.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.find(id, h)
	return ok && s.slots[i].seen > 0 && s.seen.at(s.slots[i].seen-1).has(fp)
}

// record notes that the device accepted a message of fingerprint fp. A
// device no longer cached (removed meanwhile) is not added back.
func (c *deviceCache) record(id string, fp uint64) {
	s, h := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.find(id, h)
	if !ok {
		return
	}
	cd := &s.slots[i]
	if cd.seen == 0 {
		cd.seen = s.seen.add()
	}
	s.seen.at(cd.seen - 1).add(fp)
}

func (c *deviceCache) load(id string) (registry.Device, bool) {
	s, h := c.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.find(id, h)
	if !ok {
		return registry.Device{}, false
	}
	return s.device(id, i), true
}

// remove drops a device and says what it was.
func (c *deviceCache) remove(id string) (registry.Device, bool) {
	s, h := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.find(id, h)
	if !ok {
		return registry.Device{}, false
	}
	d := s.device(id, i)
	s.drop(id, h, i)
	return d, true
}

// devicesUnless lists the ids of the devices of every household keep says
// no to; keep is called under a shard's lock.
func (c *deviceCache) devicesUnless(keep func(householdID string) bool) []string {
	var ids []string
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for j := range s.slots {
			// A free slot's id is 0, no text.
			if cd := &s.slots[j]; cd.id != 0 && !keep(s.textAt(cd.household)) {
				ids = append(ids, s.textAt(cd.id))
			}
		}
		s.mu.RUnlock()
	}
	return ids
}

// drop frees slot i, id's, of hash h.
func (s *deviceShard) drop(id string, h uint64, i uint32) {
	s.index.remove(h, i)
	cd := &s.slots[i]
	if cd.other > 0 {
		s.others[cd.other-1] = otherFields{}
	}
	cd.id, cd.household, cd.kind = 0, 0, 0
	s.free = append(s.free, i)
}

func (s *deviceShard) device(id string, i uint32) registry.Device {
	cd := s.slots[i]
	d := registry.Device{ID: id, HouseholdID: s.textAt(cd.household)}
	if cd.kind > 0 {
		d.Kind = cachedKinds[cd.kind-1]
	}
	if cd.other > 0 {
		o := s.others[cd.other-1]
		d.Source, d.SourceTopic, d.GatewayID, d.ExpectedEvery = o.source, o.sourceTopic, o.gatewayID, o.expectedEvery
		if cd.kind == 0 {
			d.Kind = o.kind
		}
	}
	return d
}

// reserve sizes the cache for about n devices, before any is stored: one
// stored already keeps the cache as it is.
func (c *deviceCache) reserve(n int) {
	if c.stored() {
		return
	}
	shards, each := shardsFor(n)
	c.shards = make([]deviceShard, shards)
	// Fresh pages, faulted in on both cores: at 5,000,000 devices, a
	// second of one core before /readyz.
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < shards; i += workers {
				s := &c.shards[i]
				s.index.resize(sizeFor(each), nil)
				s.slots = make([]cachedDevice, 0, each)
			}
		})
	}
	wg.Wait()
}

// shardsFor says how many shards hold n devices, and how many each is made
// for. An index is a power of two long: 5,000,000 devices in 64 shards
// would fill theirs to 60 %. The number of shards is chosen instead so
// that each one's part fills about tableFill of its power of two, below the
// three quarters at which it grows: a hash spreads devices a little
// unevenly over the shards, and one that fills up grows alone.
func shardsFor(n int) (shards, each int) {
	const tableFill = 0.65
	slots := 1024 // per shard, a power of two
	for float64(n) > tableFill*float64(slots)*2*minShards {
		slots *= 2
	}
	shards = max(minShards, int(math.Ceil(float64(n)/(tableFill*float64(slots)))))
	return shards, n/shards + 1
}

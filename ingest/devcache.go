package ingest

import (
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// deviceCache holds what ingest needs of every registered device, by id:
// with a million households, five to nine million entries. A sync.Map of
// registry.Device took about 260 bytes a device (its nodes, and a 120-byte
// boxed Device); a cached device is its household, its kind as one byte and
// its duplicate filter, with a device that speaks another format's fields
// apart (docs/performance.md, "Toward a million households").
type deviceCache struct {
	seed   maphash.Seed
	shards []deviceShard
}

// minShards is how many shards a cache has at least: enough that ingest's
// goroutines seldom wait on each other.
const minShards = 64

type deviceShard struct {
	mu sync.RWMutex
	m  map[string]cachedDevice
}

// cachedDevice is a registry.Device without its id (the map's key) and its
// secret's hash (never cached), with the device's last accepted messages:
// 56 bytes.
type cachedDevice struct {
	// id is the map's key again: the one copy a first message stores the
	// entry under (Go's map then replaces its key with the one given).
	id          string
	householdID string
	// other holds what only some devices have: a source other than
	// native, a gateway, an expected interval, a kind not in cachedKinds.
	// Nil for most.
	other *otherFields
	// seen is allocated at the device's first accepted message, not with
	// the entry: at a restart of 5,000,000 devices, 640 MB and 3 CPU-seconds
	// before /readyz (docs/performance.md).
	seen *seen
	// kind is 1 + its index in cachedKinds; 0: other.kind. One byte
	// rather than a string, which, cut from where the device was read (a
	// row, an import's CSV line), would cost 16 bytes and more.
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
	c := &deviceCache{seed: maphash.MakeSeed(), shards: make([]deviceShard, minShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cachedDevice)
	}
	return c
}

func (c *deviceCache) shard(id string) *deviceShard {
	return &c.shards[maphash.String(c.seed, id)%uint64(len(c.shards))]
}

func (c *deviceCache) store(d registry.Device) {
	cd := cachedDevice{id: d.ID, householdID: d.HouseholdID, kind: uint8(slices.Index(cachedKinds, d.Kind) + 1)}
	if cd.kind == 0 || !d.Native() || d.GatewayID != "" || d.ExpectedEvery != 0 {
		cd.other = &otherFields{source: d.Source, sourceTopic: d.SourceTopic, gatewayID: d.GatewayID, expectedEvery: d.ExpectedEvery}
		if cd.kind == 0 {
			cd.other.kind = d.Kind
		}
	}
	s := c.shard(d.ID)
	s.mu.Lock()
	// A device stored again (its expected interval changed) keeps what
	// it sent.
	cd.seen = s.m[d.ID].seen
	s.m[d.ID] = cd
	s.mu.Unlock()
}

// duplicate reports whether the device accepted a message of fingerprint
// fp (dedupe.go) among its last ones; an unknown device has accepted none.
func (c *deviceCache) duplicate(id string, fp uint64) bool {
	s := c.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	cd, ok := s.m[id]
	return ok && cd.seen != nil && cd.seen.has(fp)
}

// record notes that the device accepted a message of fingerprint fp. A
// device no longer cached (removed meanwhile) is not added back.
func (c *deviceCache) record(id string, fp uint64) {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	cd, ok := s.m[id]
	if !ok {
		return
	}
	if cd.seen == nil {
		cd.seen = new(seen)
		s.m[cd.id] = cd // under its own id, not id, which may be cut from a topic
	}
	cd.seen.add(fp)
}

func (c *deviceCache) load(id string) (registry.Device, bool) {
	s := c.shard(id)
	s.mu.RLock()
	cd, ok := s.m[id]
	s.mu.RUnlock()
	if !ok {
		return registry.Device{}, false
	}
	return cd.device(id), true
}

// remove drops a device and says what it was.
func (c *deviceCache) remove(id string) (registry.Device, bool) {
	s := c.shard(id)
	s.mu.Lock()
	cd, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	if !ok {
		return registry.Device{}, false
	}
	return cd.device(id), true
}

func (cd cachedDevice) device(id string) registry.Device {
	d := registry.Device{ID: id, HouseholdID: cd.householdID}
	if cd.kind > 0 {
		d.Kind = cachedKinds[cd.kind-1]
	}
	if o := cd.other; o != nil {
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
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		stored := len(s.m)
		s.mu.RUnlock()
		if stored > 0 {
			return
		}
	}
	shards, each := shardsFor(n)
	c.shards = make([]deviceShard, shards)
	// Making a map this size writes every slot's control byte: at 5,000,000
	// devices, 400 MB of fresh pages, seconds of one core before /readyz.
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < shards; i += workers {
				c.shards[i].m = make(map[string]cachedDevice, each)
			}
		})
	}
	wg.Wait()
}

// shardsFor says how many shards hold n devices, and how many each is made
// for. Go makes a map for h entries with the power of two at or above 8/7 h
// slots: 5,000,000 devices in 64 shards took 8,388,608 slots, 60 % used
// (630 MB). The number of shards is chosen instead so that each one's part
// fills about tableFill of its power of two, below Go's 7/8: a hash spreads
// entries a little unevenly over the map's tables, and one that fills up
// grows alone.
func shardsFor(n int) (shards, each int) {
	const tableFill = 0.8
	slots := 1024 // per shard, a power of two: Go's largest table at least
	for float64(n) > tableFill*float64(slots)*2*minShards {
		slots *= 2
	}
	shards = max(minShards, int(math.Ceil(float64(n)/(tableFill*float64(slots)))))
	return shards, n/shards + 1
}

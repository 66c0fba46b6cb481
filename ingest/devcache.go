package ingest

import (
	"hash/maphash"
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
	shards [64]deviceShard
}

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
	c := &deviceCache{seed: maphash.MakeSeed()}
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

// reserve sizes the cache for about n devices before they are loaded.
func (c *deviceCache) reserve(n int) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if len(s.m) == 0 {
			s.m = make(map[string]cachedDevice, n/len(c.shards))
		}
		s.mu.Unlock()
	}
}

package ingest

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// deviceCache holds what ingest needs of every registered device, by id:
// with a million households, five million entries. A sync.Map of
// registry.Device took about 260 bytes a device (its nodes, and a 120-byte
// boxed Device); a cached device is its household and kind, with a device
// that speaks another format's fields apart (docs/performance.md, "Toward
// a million households").
type deviceCache struct {
	seed   maphash.Seed
	shards [64]deviceShard
}

type deviceShard struct {
	mu sync.RWMutex
	m  map[string]cachedDevice
}

// cachedDevice is a registry.Device without its id (the map's key) and its
// secret's hash (never cached).
type cachedDevice struct {
	householdID string
	kind        registry.DeviceKind
	// other holds what only some devices have: a source other than
	// native, a gateway, an expected interval. Nil for most.
	other *otherFields
}

type otherFields struct {
	source                 registry.Source
	sourceTopic, gatewayID string
	expectedEvery          time.Duration
}

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
	cd := cachedDevice{householdID: d.HouseholdID, kind: d.Kind}
	if !d.Native() || d.GatewayID != "" || d.ExpectedEvery != 0 {
		cd.other = &otherFields{source: d.Source, sourceTopic: d.SourceTopic, gatewayID: d.GatewayID, expectedEvery: d.ExpectedEvery}
	}
	s := c.shard(d.ID)
	s.mu.Lock()
	s.m[d.ID] = cd
	s.mu.Unlock()
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
	d := registry.Device{ID: id, HouseholdID: cd.householdID, Kind: cd.kind}
	if o := cd.other; o != nil {
		d.Source, d.SourceTopic, d.GatewayID, d.ExpectedEvery = o.source, o.sourceTopic, o.gatewayID, o.expectedEvery
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

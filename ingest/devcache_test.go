package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

func TestDeviceCache(t *testing.T) {
	c := newDeviceCache()
	for _, d := range []registry.Device{
		{ID: "d1", HouseholdID: "h1", Kind: registry.MotionSensor},
		{ID: "gw", HouseholdID: "h1", Kind: registry.Gateway},
		{ID: "z1", HouseholdID: "h1", Kind: registry.DoorSensor, Source: registry.SourceZigbee2MQTT, SourceTopic: "hall door", GatewayID: "gw"},
		// A kind the cache has no byte for keeps its name.
		{ID: "x1", HouseholdID: "h2", Kind: "thermometer"},
	} {
		c.store(d)
		got, ok := c.load(d.ID)
		if !ok || got != d {
			t.Errorf("load(%s) = %+v, %v; want %+v", d.ID, got, ok, d)
		}
	}

	fp := fingerprint(7, rules.Reading{TS: ts0})
	if c.duplicate("d1", fp) {
		t.Error("a message never recorded is a duplicate")
	}
	// The id as ingest has it, cut from a topic.
	topic := "eldersafe/v1/devices/d1/events"
	id := topic[len("eldersafe/v1/devices/") : len(topic)-len("/events")]
	c.record(id, fp)
	if !c.duplicate("d1", fp) || c.duplicate("d1", fingerprint(8, rules.Reading{TS: ts0})) || c.duplicate("gw", fp) {
		t.Error("the filter does not hold d1's message alone")
	}
	// Stored again (a new expected interval), the device keeps its filter.
	c.store(registry.Device{ID: "d1", HouseholdID: "h1", Kind: registry.MotionSensor, ExpectedEvery: time.Hour})
	if !c.duplicate("d1", fp) {
		t.Error("storing a device again forgot what it sent")
	}
	// Removed, it is forgotten, and recording does not bring it back.
	if _, ok := c.remove("d1"); !ok {
		t.Fatal("d1 not removed")
	}
	c.record("d1", fp)
	if _, ok := c.load("d1"); ok || c.duplicate("d1", fp) {
		t.Error("a removed device came back")
	}
	// Its slot, taken by the next device of its shard, is the new device's
	// alone.
	for i := range 1000 {
		d := registry.Device{ID: fmt.Sprint("new", i), HouseholdID: "h3", Kind: registry.WaterMeter}
		c.store(d)
		if got, ok := c.load(d.ID); !ok || got != d || c.duplicate(d.ID, fp) {
			t.Fatalf("load(%s) = %+v, %v (a duplicate: %v); want %+v", d.ID, got, ok, c.duplicate(d.ID, fp), d)
		}
	}
	if got, ok := c.load("z1"); !ok || got.Source != registry.SourceZigbee2MQTT || got.GatewayID != "gw" {
		t.Errorf("z1 after others came and went: %+v, %v", got, ok)
	}
}

// TestDeviceShardCollision: devices whose ids have one hash are each found
// as itself, and removing one leaves the others.
func TestDeviceShardCollision(t *testing.T) {
	var s deviceShard
	const h = 42
	a, b := s.put("a", h), s.put("b", h)
	for id, want := range map[string]uint32{"a": a, "b": b} {
		if i, ok := s.find(id, h); !ok || i != want {
			t.Errorf("find(%s) = %d, %v; want %d", id, i, ok, want)
		}
	}
	if _, ok := s.find("c", h); ok {
		t.Error("an id never stored was found by its hash")
	}
	if i := s.put("b", h); i != b {
		t.Errorf("b put again: slot %d, want its own %d", i, b)
	}
	s.drop("a", h, a)
	if _, ok := s.find("a", h); ok {
		t.Error("a found after its removal")
	}
	c := s.put("c", h)
	for id, want := range map[string]uint32{"b": b, "c": c} {
		if i, ok := s.find(id, h); !ok || i != want {
			t.Errorf("after a's removal, find(%s) = %d, %v; want %d", id, i, ok, want)
		}
	}
	s.drop("b", h, b)
	if i, ok := s.find("c", h); !ok || i != c {
		t.Errorf("after b's removal, find(c) = %d, %v; want %d", i, ok, c)
	}
}

func TestDeviceCacheReserve(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 100_000, 1_000_000, 5_000_000, 9_000_000} {
		shards, each := shardsFor(n)
		if shards < minShards || shards*each < n {
			t.Errorf("shardsFor(%d) = %d shards of %d", n, shards, each)
			continue
		}
		size := sizeFor(each)
		if used := float64(n) / float64(shards*size); n >= 100_000 && used < 0.6 {
			t.Errorf("shardsFor(%d): %d shards of %d entries are %.0f %% used, want 60 %% at least", n, shards, size, used*100)
		}
	}

	c := newDeviceCache()
	c.reserve(100_000)
	if want, _ := shardsFor(100_000); len(c.shards) != want {
		t.Fatalf("%d shards after reserve, want %d", len(c.shards), want)
	}
	sizes := make([]int, len(c.shards))
	for i := range c.shards {
		sizes[i] = len(c.shards[i].index.entries)
	}
	for i := range 100_000 {
		c.store(registry.Device{ID: fmt.Sprint("d", i), HouseholdID: "h1", Kind: registry.WaterMeter})
	}
	for i := range 100_000 {
		if _, ok := c.load(fmt.Sprint("d", i)); !ok {
			t.Fatalf("d%d not found after reserve", i)
		}
	}
	for i := range c.shards {
		if n := len(c.shards[i].index.entries); n != sizes[i] {
			t.Errorf("shard %d grew from %d entries to %d holding what it was reserved for", i, sizes[i], n)
		}
	}
	// A cache holding devices is not made again.
	c.reserve(5_000_000)
	if _, ok := c.load("d1"); !ok {
		t.Error("reserve on a cache in use dropped its devices")
	}
}

// TestDeviceCacheManyTextBlocks: ids and household ids in a shard's second
// block of text and later ones read as stored, those ending a block too.
func TestDeviceCacheManyTextBlocks(t *testing.T) {
	c := newDeviceCache()
	var devices []registry.Device
	// Long ids of varied lengths, so that texts end at every offset near a
	// block's end.
	for i := range 3 * textBlock * minShards / 80 {
		d := registry.Device{
			ID:          fmt.Sprintf("%0*d", 30+i%35, i),
			HouseholdID: fmt.Sprintf("household-%0*d", 20+i%35, i/5),
			Kind:        registry.WaterMeter,
		}
		c.store(d)
		devices = append(devices, d)
	}
	blocks := 0
	for i := range c.shards {
		blocks = max(blocks, len(c.shards[i].text))
	}
	if blocks < 3 {
		t.Fatalf("at most %d blocks of text in a shard: the test stores too little", blocks)
	}
	for _, d := range devices {
		if got, ok := c.load(d.ID); !ok || got != d {
			t.Fatalf("load(%s) = %+v, %v; want %+v", d.ID, got, ok, d)
		}
	}
}

// TestDeviceCacheChurn: devices stored and removed over and over, as the
// index grows and is rebuilt from its tombstones, are found while stored
// and not after.
func TestDeviceCacheChurn(t *testing.T) {
	c := newDeviceCache()
	rng := rand.New(rand.NewPCG(3, 4))
	stored := map[string]bool{}
	next := 0
	for round := range 30 {
		for range 2000 {
			d := registry.Device{ID: fmt.Sprint("d", next), HouseholdID: fmt.Sprint("h", next/5), Kind: registry.DoorSensor}
			next++
			c.store(d)
			stored[d.ID] = true
		}
		for id := range stored {
			if rng.IntN(4) > 0 {
				if _, ok := c.remove(id); !ok {
					t.Fatalf("round %d: %s not removed", round, id)
				}
				delete(stored, id)
			}
		}
		for i := range next {
			id := fmt.Sprint("d", i)
			if d, ok := c.load(id); ok != stored[id] || (ok && d.HouseholdID != fmt.Sprint("h", i/5)) {
				t.Fatalf("round %d: load(%s) = %+v, %v; stored: %v", round, id, d, ok, stored[id])
			}
		}
		if n := c.cached(); n != len(stored) {
			t.Fatalf("round %d: %d devices cached, want %d", round, n, len(stored))
		}
	}
}

// TestDeviceCacheFilters: each device's duplicate filter is its own, past
// a shard's first block of filters; a removed device's slot, given to a
// new device, comes with an empty one.
func TestDeviceCacheFilters(t *testing.T) {
	c := newDeviceCache()
	n := 3 * seenBlock * minShards
	fp := func(i int) uint64 { return fingerprint(uint64(i), rules.Reading{TS: ts0}) }
	for i := range n {
		id := fmt.Sprint("d", i)
		c.store(registry.Device{ID: id, HouseholdID: fmt.Sprint("h", i/5), Kind: registry.MotionSensor})
		c.record(id, fp(2*n)) // every device's
		c.record(id, fp(i))
	}
	blocks := 0
	for i := range c.shards {
		blocks = max(blocks, len(c.shards[i].seen.blocks))
	}
	if blocks < 3 {
		t.Fatalf("at most %d blocks of filters in a shard: the test stores too little", blocks)
	}
	for i := range n {
		id := fmt.Sprint("d", i)
		if !c.duplicate(id, fp(i)) || c.duplicate(id, fp(i+1)) {
			t.Fatalf("%s: a duplicate of its own message %v, of the next device's %v; want true, false", id, c.duplicate(id, fp(i)), c.duplicate(id, fp(i+1)))
		}
	}
	for i := 0; i < n; i += 2 {
		c.remove(fmt.Sprint("d", i))
	}
	for i := range n / 2 {
		id := fmt.Sprint("new", i)
		c.store(registry.Device{ID: id, HouseholdID: "h", Kind: registry.MotionSensor})
		if c.duplicate(id, fp(2*n)) {
			t.Fatalf("new device %s has a removed device's message in its filter", id)
		}
	}
}

// A standby forgets the devices of the households erased, gateways too,
// which the rules engine does not know.
func TestPipelineForgetHouseholdsUnless(t *testing.T) {
	p := &Pipeline{devices: newDeviceCache()}
	for _, d := range []registry.Device{
		{ID: "d1", HouseholdID: "h1", Kind: registry.MotionSensor},
		{ID: "gw2", HouseholdID: "h2", Kind: registry.Gateway},
		{ID: "z2", HouseholdID: "h2", Kind: registry.DoorSensor, Source: registry.SourceZigbee2MQTT, SourceTopic: "hall door", GatewayID: "gw2"},
		{ID: "d3", HouseholdID: "h3", Kind: registry.DoorSensor},
	} {
		p.Remember(d)
	}
	p.ForgetDevices("d3")
	p.ForgetHouseholdsUnless(func(householdID string) bool { return householdID == "h1" || householdID == "h3" })
	for id, want := range map[string]bool{"d1": true, "gw2": false, "z2": false, "d3": false} {
		if _, ok := p.devices.load(id); ok != want {
			t.Errorf("%s cached: %v, want %v", id, ok, want)
		}
	}
	if _, ok := p.bySource.Load(sourceKey(registry.SourceZigbee2MQTT, "hall door")); ok {
		t.Error("z2 still found by its source topic")
	}
}

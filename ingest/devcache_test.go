package ingest

import (
	"testing"
	"time"
	"unsafe"

	"github.com/eldersafe/eldersafe/registry"
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

	fp := fingerprint(7, ts0)
	if c.duplicate("d1", fp) {
		t.Error("a message never recorded is a duplicate")
	}
	// The id as ingest has it, cut from a topic.
	topic := "eldersafe/v1/devices/d1/events"
	id := topic[len("eldersafe/v1/devices/") : len(topic)-len("/events")]
	c.record(id, fp)
	if !c.duplicate("d1", fp) || c.duplicate("d1", fingerprint(8, ts0)) || c.duplicate("gw", fp) {
		t.Error("the filter does not hold d1's message alone")
	}
	for k := range c.shard("d1").m {
		if k == "d1" && unsafe.StringData(k) == unsafe.StringData(id) {
			t.Error("the cache's key is the topic's substring: it pins the message")
		}
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
}

package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// noSources answers that no device is registered on any source's topic.
type noSources struct{}

func (noSources) SourceDevice(context.Context, registry.Source, string) (registry.Device, error) {
	return registry.Device{}, registry.ErrNotFound
}

// countingDevices is a registry of wristbands that counts its lookups.
type countingDevices struct {
	noSources
	lookups atomic.Int64
}

func (c *countingDevices) Device(_ context.Context, id string) (registry.Device, error) {
	c.lookups.Add(1)
	return registry.Device{ID: id, Kind: registry.Wristband, HouseholdID: "h-" + id, SecretHash: "$sha256$salt$hash"}, nil
}

// The devices known at start are not looked up; another device is looked
// up once, on its first message.
func TestPipelineKnownDevices(t *testing.T) {
	devices := &countingDevices{}
	var households []string
	p, err := NewPipeline(PipelineOptions{
		Prefix:  "eldersafe/v1",
		Devices: devices,
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			households = append(households, r.HouseholdID)
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Remember(registry.Device{ID: "wb-1", Kind: registry.Wristband, HouseholdID: "h1", SecretHash: "$sha256$salt$hash"})
	payload := []byte(`{"ts":"` + testNow.Format(time.RFC3339) + `","battery_pct":80}`)
	for _, id := range []string{"wb-1", "wb-1", "wb-2", "wb-2"} {
		if _, err := p.Ingest(context.Background(), "eldersafe/v1/devices/"+id+"/telemetry", payload); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if got := devices.lookups.Load(); got != 1 {
		t.Errorf("%d store lookups, want 1 (wb-2's first message)", got)
	}
	if want := []string{"h1", "h1", "h-wb-2", "h-wb-2"}; len(households) != 4 || households[0] != want[0] || households[2] != want[2] {
		t.Errorf("households %v, want %v", households, want)
	}
	if n := p.devices.cached(); n != 2 {
		t.Errorf("%d devices cached, want 2", n)
	}
}

// cached is how many devices the cache holds.
func (c *deviceCache) cached() (n int) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.index.live
		s.mu.RUnlock()
	}
	return n
}

// A copy of a wristband's fall that comes after many of its heartbeats (a
// gateway resending its buffer, after the fall's task was resolved) is a
// duplicate: it would open another task and send a worker for nothing.
func TestPipeline_FallCopyAfterHeartbeats(t *testing.T) {
	p, _, got := sourcesPipeline(t)
	ctx := context.Background()
	fall := fmt.Sprintf(`{"ts":%q,"seq":1,"event":"fall"}`, ts0.Format(time.RFC3339))
	if _, err := p.Ingest(ctx, "eldersafe/v1/devices/band/event", []byte(fall)); err != nil {
		t.Fatal(err)
	}
	for seq := 2; seq < 2+4*recent; seq++ {
		beat := fmt.Sprintf(`{"ts":%q,"seq":%d,"heart_rate":70}`, ts0.Add(time.Duration(seq)*time.Minute).Format(time.RFC3339), seq)
		if _, err := p.Ingest(ctx, "eldersafe/v1/devices/band/telemetry", []byte(beat)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Ingest(ctx, "eldersafe/v1/devices/band/event", []byte(fall)); ReasonOf(err) != ReasonDuplicate {
		t.Fatalf("the fall's copy: %v, want a duplicate", err)
	}
	falls := 0
	for _, r := range *got {
		if r.Event == rules.EventFall {
			falls++
		}
	}
	if falls != 1 || len(*got) != 1+4*recent {
		t.Errorf("handed on %d readings, %d falls; want %d, 1", len(*got), falls, 1+4*recent)
	}
}

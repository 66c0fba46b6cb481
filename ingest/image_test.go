package ingest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// imagePipeline is a pipeline whose store knows no device: what it finds,
// it found in its cache.
func imagePipeline(t *testing.T) (*Pipeline, *sourceRegistry) {
	t.Helper()
	reg := &sourceRegistry{}
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: reg, Sources: testSources,
		Handle: func(context.Context, rules.Reading) (<-chan struct{}, error) { return stored(), nil },
		Bound:  clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

// imageParts is the image of p's cache, part by part.
func imageParts(p *Pipeline) [][]byte {
	im := p.CacheImage()
	parts := make([][]byte, im.Parts())
	for i := range parts {
		parts[i] = im.AppendPart(nil, i)
	}
	return parts
}

// TestCacheImage: a cache read back from its image finds every device it
// held, as it was, without asking the store, a source's device by its topic
// too; forgets the removed ones and every duplicate filter; and takes new
// devices after.
func TestCacheImage(t *testing.T) {
	src, _ := imagePipeline(t)
	var devices []registry.Device
	for i := range 3000 {
		d := registry.Device{ID: fmt.Sprintf("h%d-d%d", i/5, i%5), HouseholdID: fmt.Sprintf("h%d", i/5), Kind: registry.DeviceKinds[i%5]}
		switch i % 500 {
		case 1:
			d.Kind = "thermometer" // no byte of its own
		case 2:
			d.Source, d.SourceTopic, d.GatewayID = registry.SourceZigbee2MQTT, fmt.Sprintf("h%d/Kitchen PIR", i/5), "gw"
		case 3:
			d.ExpectedEvery = 90 * time.Minute
		}
		devices = append(devices, d)
	}
	src.Reserve(len(devices))
	for _, d := range devices {
		src.Remember(d)
	}
	// Removed: free slots and tombstones in the image.
	var removed []string
	for i := 0; i < len(devices); i += 7 {
		removed = append(removed, devices[i].ID)
	}
	src.ForgetDevices(removed...)
	fp := fingerprint(1, rules.Reading{TS: ts0})
	src.devices.record(devices[1].ID, fp)

	dst, reg := imagePipeline(t)
	parts := imageParts(src)
	var wg sync.WaitGroup
	for _, part := range slices.Backward(parts) {
		wg.Go(func() {
			if err := dst.LoadCachePart(part); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ctx := context.Background()
	for i, d := range devices {
		got, ok := dst.devices.load(d.ID)
		switch {
		case i%7 == 0 && ok:
			t.Errorf("%s was removed, and is back", d.ID)
		case i%7 != 0 && (!ok || got != d):
			t.Errorf("%s: %+v, %v; want %+v", d.ID, got, ok, d)
		}
	}
	if dst.devices.duplicate(devices[1].ID, fp) {
		t.Error("a duplicate filter came back with the image")
	}
	if d, err := dst.sourceDevice(ctx, registry.SourceZigbee2MQTT, "h0/Kitchen PIR"); err != nil || d != devices[2] {
		t.Errorf("by its topic: %+v, %v; want %+v", d, err, devices[2])
	}
	if reg.lookups != 0 {
		t.Errorf("%d store lookups", reg.lookups)
	}
	// New devices, enough to grow the index, and an old one stored again.
	for i := range 3000 {
		d := registry.Device{ID: fmt.Sprint("new", i), HouseholdID: "h-new", Kind: registry.WaterMeter}
		dst.Remember(d)
		if got, ok := dst.devices.load(d.ID); !ok || got != d {
			t.Fatalf("%s after the image: %+v, %v", d.ID, got, ok)
		}
	}
	for _, d := range devices[1:50] {
		if got, ok := dst.devices.load(d.ID); ok && got != d {
			t.Errorf("%s after new devices: %+v", d.ID, got)
		}
	}
	// An image of the image is the same.
	if again := imageParts(dst); len(again) != len(parts) {
		t.Errorf("%d parts, then %d", len(parts), len(again))
	}
}

// TestCacheImageRefused: a part that is not whole, or that does not fit
// the cache, is refused and changes nothing.
func TestCacheImageRefused(t *testing.T) {
	src, _ := imagePipeline(t)
	for i := range 100 {
		src.Remember(registry.Device{ID: fmt.Sprint("d", i), HouseholdID: "h", Kind: registry.MotionSensor})
	}
	parts := imageParts(src)
	dst, _ := imagePipeline(t)
	for n := range len(parts[0]) {
		if err := dst.LoadCachePart(parts[0][:n]); err == nil {
			t.Fatalf("%d bytes of %d loaded", n, len(parts[0]))
		}
	}
	if dst.devices.stored() {
		t.Fatal("a refused part left devices")
	}
	if err := dst.LoadCachePart(parts[0]); err != nil {
		t.Fatal(err)
	}
	if err := dst.LoadCachePart(parts[0]); err == nil {
		t.Error("a part loaded twice")
	}
	// A part of an image of another layout, over a cache in use.
	other, _ := imagePipeline(t)
	other.Reserve(1_000_000)
	other.Remember(registry.Device{ID: "x", HouseholdID: "h", Kind: registry.MotionSensor})
	if err := dst.LoadCachePart(imageParts(other)[0]); err == nil {
		t.Error("a part of another layout loaded over a cache in use")
	}
}

// FuzzCachePart: whatever a part holds, loading it never panics, and what
// loads is written as it was read.
func FuzzCachePart(f *testing.F) {
	src := newDeviceCache()
	for i := range 40 {
		src.store(registry.Device{ID: fmt.Sprint("d", i), HouseholdID: "h", Kind: registry.DeviceKinds[i%5], ExpectedEvery: time.Duration(i) * time.Minute})
	}
	src.remove("d3")
	im := CacheImage{src}
	for i := range 3 {
		f.Add(im.AppendPart(nil, i))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		shards, at, s, err := decodeShard(b)
		if err != nil {
			return
		}
		c := &deviceCache{}
		if err := c.adopt(shards, at, s); err != nil {
			t.Fatal(err)
		}
		for i := range s.slots {
			c.shards[at].device(s.textAt(s.slots[i].id), uint32(i))
		}
		c.load("d7")
		again := (CacheImage{c}).AppendPart(nil, at)
		_, _, s2, err := decodeShard(again)
		if err != nil {
			t.Fatalf("%x, written again, does not load: %v", b, err)
		}
		c2 := &deviceCache{}
		if err := c2.adopt(shards, at, s2); err != nil {
			t.Fatal(err)
		}
		if third := (CacheImage{c2}).AppendPart(nil, at); !slices.Equal(third, again) {
			t.Fatalf("%x written as %x, then %x", b, again, third)
		}
	})
}

package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	o := Options{Ratio: 0.25, LoadRatio: 1, Min: 64 << 20}
	for _, c := range []struct {
		name string
		u    usage
		want int64
	}{
		{"a small heap gets the least headroom",
			usage{live: 10 << 20, other: 5 << 20}, (10 + 5 + 64) << 20},
		{"a large one at rest a quarter of itself",
			usage{live: 1 << 30, other: 20 << 20, recent: 100 << 20}, 1<<30 + 20<<20 + 1<<28},
		{"under load, what it allocated lately",
			usage{live: 1 << 30, other: 20 << 20, recent: 600 << 20}, 1<<30 + 20<<20 + 600<<20},
		{"under a heavy load, no more than LoadRatio",
			usage{live: 1 << 30, other: 20 << 20, recent: 5 << 30}, 2<<30 + 20<<20},
	} {
		if got := o.limit(c.u); got != c.want {
			t.Errorf("%s: limit(%+v) = %d MiB, want %d MiB", c.name, c.u, got>>20, c.want>>20)
		}
	}
	// A LoadRatio at or below Ratio never widens the headroom.
	o.LoadRatio = 0.1
	if got, want := o.limit(usage{live: 1 << 30, recent: 5 << 30}), int64(1<<30+1<<28); got != want {
		t.Errorf("LoadRatio below Ratio: limit %d MiB, want %d MiB", got>>20, want>>20)
	}
}

// The headroom under load follows what was allocated over the last Window,
// not since the start, and nothing before the first reading.
func TestRecentAllocations(t *testing.T) {
	s := newSampler(Options{Window: 3 * time.Second, Every: time.Second})
	for i, c := range []struct{ total, want uint64 }{
		{1000, 0},   // the first reading: what came before is not load
		{1100, 100}, // since the first
		{1300, 300},
		{1600, 600}, // a Window's readings: since 1000
		{1700, 600}, // since 1100
		{1700, 400}, // since 1300
		{1700, 100}, // since 1600: the load has passed
		{1700, 0},
	} {
		if got := s.record(c.total); got != c.want {
			t.Errorf("reading %d (total %d): recent %d, want %d", i, c.total, got, c.want)
		}
	}
	if got := newSampler(Options{Every: time.Second}).record(1000); got != 0 {
		t.Errorf("without a Window: recent %d, want 0", got)
	}
}

func TestApplyAndRun(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	keep := make([]byte, 32<<20) // live across the collection
	runtime.GC()
	o := Options{Ratio: 0.5, Min: 1 << 20, Every: time.Hour}
	limit := Apply(o)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("the runtime's limit is %d, Apply said %d", got, limit)
	}
	// At least the live heap and half of it again; far below the heap
	// plus the default unlimited.
	if limit < 48<<20 || limit > 256<<20 {
		t.Errorf("limit %d MiB with 32 MiB live and a ratio of 0.5", limit>>20)
	}
	runtime.KeepAlive(keep)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { Run(ctx, o); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after Run the limit is %d, want it lifted", got)
	}
}

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
	o := Options{Ratio: 0.25, LoadRatio: 1, Cycle: 10 * time.Second, Min: 64 << 20}
	for _, c := range []struct {
		name    string
		u       usage
		want    int64
		widened bool
	}{
		{"a small heap gets the least headroom",
			usage{live: 10 << 20, other: 5 << 20}, (10 + 5 + 64) << 20, false},
		{"a large one at rest a quarter of itself",
			usage{live: 1 << 30, other: 20 << 20, rate: 10 << 20}, 1<<30 + 20<<20 + 1<<28, false},
		{"under load, what it allocates in a Cycle",
			usage{live: 1 << 30, other: 20 << 20, rate: 60 << 20}, 1<<30 + 20<<20 + 600<<20, true},
		{"under a heavy load, no more than LoadRatio",
			usage{live: 1 << 30, other: 20 << 20, rate: 1 << 30}, 2<<30 + 20<<20, true},
	} {
		got, widened := o.limit(c.u)
		if got != c.want || widened != c.widened {
			t.Errorf("%s: limit(%+v) = %d MiB, widened %t; want %d MiB, %t", c.name, c.u, got>>20, widened, c.want>>20, c.widened)
		}
	}
	// A LoadRatio at or below Ratio never widens the headroom.
	o.LoadRatio = 0.1
	if got, widened := o.limit(usage{live: 1 << 30, rate: 1 << 30}); got != 1<<30+1<<28 || widened {
		t.Errorf("LoadRatio below Ratio: limit %d MiB, widened %t; want %d MiB, false", got>>20, widened, (1<<30+1<<28)>>20)
	}
}

// The allocation rate is over the last RateOver, not since the start, and
// nothing before the first reading.
func TestAllocationRate(t *testing.T) {
	s := newSampler(Options{RateOver: 3 * time.Second, Every: time.Second})
	for i, c := range []struct {
		total uint64
		want  float64
	}{
		{1000, 0},   // the first reading: what came before is not load
		{1100, 100}, // since the first
		{1300, 150},
		{1600, 200}, // RateOver's readings: since 1000
		{1700, 200}, // since 1100
		{1700, 400.0 / 3},
		{1700, 100.0 / 3}, // since 1600: the load is passing
		{1700, 0},
	} {
		if got := s.record(c.total); got != c.want {
			t.Errorf("reading %d (total %d): rate %g, want %g", i, c.total, got, c.want)
		}
	}
	if got := newSampler(Options{Every: time.Second}).record(1000); got != 0 {
		t.Errorf("without RateOver: rate %g, want 0", got)
	}
}

func TestRun(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	keep := make([]byte, 32<<20) // live across the collection
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Options{Ratio: 0.5, LoadRatio: 1, Cycle: time.Minute, RateOver: time.Hour, Min: 1 << 20, Every: time.Hour})
		close(done)
	}()
	// Run sets the limit at once, then not for an hour.
	limit := int64(math.MaxInt64)
	for deadline := time.Now().Add(10 * time.Second); limit == math.MaxInt64 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		limit = debug.SetMemoryLimit(-1)
	}
	// At least the live heap and half of it again (the first reading
	// counts nothing as load); far below the heap plus the default
	// unlimited.
	if limit < 48<<20 || limit > 256<<20 {
		t.Errorf("limit %d MiB with 32 MiB live and a ratio of 0.5", limit>>20)
	}
	runtime.KeepAlive(keep)

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after Run the limit is %d, want it lifted", got)
	}
}

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
	o := Options{Ratio: 0.25, Min: 64 << 20}
	for _, c := range []struct {
		u    usage
		want int64
	}{
		// A small heap gets the least headroom.
		{usage{live: 10 << 20, other: 5 << 20}, (10 + 5 + 64) << 20},
		// A large one a quarter of itself.
		{usage{live: 1 << 30, other: 20 << 20}, 1<<30 + 20<<20 + 1<<28},
	} {
		if got := o.limit(c.u); got != c.want {
			t.Errorf("limit(%+v) = %d, want %d", c.u, got, c.want)
		}
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

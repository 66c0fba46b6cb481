// Package memlimit keeps the Go runtime's soft memory limit (what
// GOMEMLIMIT sets) a fraction above what the heap holds live. Left alone,
// the runtime lets the heap grow to twice its live size between
// collections: with a million households' state live, hundreds of
// megabytes that a monitor holds for nothing, and the resident set at its
// peak while starting (docs/performance.md, "Memory"). A smaller headroom
// costs more collections: the ratio trades memory for the collector's CPU.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Options set the headroom.
type Options struct {
	// Ratio is the headroom as a fraction of the live heap: 0.25 lets the
	// heap grow by a quarter between collections (the runtime's default
	// is 1).
	Ratio float64
	// Min is the least headroom, in bytes, so that a small heap is not
	// collected at every few allocations.
	Min uint64
	// Every is how often the limit follows the live heap, which the
	// runtime measures at each collection.
	Every time.Duration
}

// usage is what the limit is computed from, in bytes.
type usage struct {
	// live is the heap the last collection found live.
	live uint64
	// other is the runtime's memory outside the heap (stacks, its own
	// structures), which the limit counts too.
	other uint64
}

func (o Options) limit(u usage) int64 {
	return int64(u.live + u.other + max(o.Min, uint64(float64(u.live)*o.Ratio)))
}

var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
}

func read(samples []metrics.Sample) usage {
	metrics.Read(samples)
	v := func(i int) uint64 { return samples[i].Value.Uint64() }
	return usage{live: v(0), other: v(1) - v(2) - v(3) - v(4) - v(5)}
}

func newSamples() []metrics.Sample {
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	return samples
}

// Apply sets the limit once from the heap as it is and returns it.
func Apply(o Options) int64 {
	limit := o.limit(read(newSamples()))
	debug.SetMemoryLimit(limit)
	return limit
}

// Run sets the limit now and every o.Every until ctx ends, then lifts it.
// The limit is process-wide: run one per process.
func Run(ctx context.Context, o Options) {
	samples := newSamples()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		debug.SetMemoryLimit(o.limit(read(samples)))
		select {
		case <-ctx.Done():
			debug.SetMemoryLimit(math.MaxInt64)
			return
		case <-t.C:
		}
	}
}

// Package memlimit keeps the Go runtime's soft memory limit (what
// GOMEMLIMIT sets) a fraction above what the heap holds live. Left alone,
// the runtime lets the heap grow to twice its live size between
// collections: with a million households' state live, hundreds of
// megabytes that a monitor holds for nothing, and the resident set at its
// peak while starting (docs/performance.md, "Memory"). A smaller headroom
// costs more collections: the ratio trades memory for the collector's CPU.
//
// That trade differs at rest and under load. At rest the monitor allocates
// little, and a narrow headroom costs a collection now and then. Under
// load each collection marks the whole live heap again (at a million
// households, over a gigabyte) as often as the load fills the headroom,
// and a narrow headroom spent a third of the CPU collecting. So the
// headroom widens to what the monitor allocated over the last Window, up to
// LoadRatio of the live heap, and narrows again once the load has passed.
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
	// Ratio is the headroom at rest as a fraction of the live heap: 0.25
	// lets the heap grow by a quarter between collections (the runtime's
	// default is 1).
	Ratio float64
	// LoadRatio is the most headroom under load, as a fraction of the
	// live heap; at or below Ratio, the headroom never widens. GOGC still
	// bounds it: at its default (100), past 1 the runtime's own goal
	// comes first.
	LoadRatio float64
	// Window is how long an allocation counts as load: the headroom holds
	// at least what the heap allocated over the last Window (up to
	// LoadRatio), so that a collection comes about once a Window.
	Window time.Duration
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
	// recent is what the heap allocated over the last Window.
	recent uint64
}

func (o Options) limit(u usage) int64 {
	rest := max(o.Min, uint64(float64(u.live)*o.Ratio))
	load := min(u.recent, uint64(float64(u.live)*o.LoadRatio))
	return int64(u.live + u.other + max(rest, load))
}

var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/heap/allocs:bytes",
}

// sampler reads the runtime's figures and remembers what the heap had
// allocated in all at each of the last Window's readings.
type sampler struct {
	samples []metrics.Sample
	// allocs is a ring of the heap's total allocations, a reading each
	// Every; next is where the next reading goes.
	allocs []uint64
	next   int
	filled bool
}

func newSampler(o Options) *sampler {
	s := &sampler{samples: make([]metrics.Sample, len(names))}
	for i, n := range names {
		s.samples[i].Name = n
	}
	if o.Every > 0 && o.Window > 0 {
		s.allocs = make([]uint64, max(1, int(o.Window/o.Every)))
	}
	return s
}

func (s *sampler) read() usage {
	metrics.Read(s.samples)
	v := func(i int) uint64 { return s.samples[i].Value.Uint64() }
	u := usage{live: v(0), other: v(1) - v(2) - v(3) - v(4) - v(5)}
	u.recent = s.record(v(6))
	return u
}

// record keeps the heap's total allocations and returns what was allocated
// since the oldest reading kept: over the last Window once there are a
// Window's readings, since the first reading before that.
func (s *sampler) record(total uint64) uint64 {
	if len(s.allocs) == 0 {
		return 0
	}
	oldest := total
	if s.filled {
		oldest = s.allocs[s.next]
	} else if s.next > 0 {
		oldest = s.allocs[0]
	}
	s.allocs[s.next] = total
	s.next = (s.next + 1) % len(s.allocs)
	s.filled = s.filled || s.next == 0
	return total - oldest
}

// Apply sets the limit once from the heap as it is and returns it.
func Apply(o Options) int64 {
	limit := o.limit(newSampler(o).read())
	debug.SetMemoryLimit(limit)
	return limit
}

// Run sets the limit now and every o.Every until ctx ends, then lifts it.
// The limit is process-wide: run one per process.
func Run(ctx context.Context, o Options) {
	s := newSampler(o)
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		debug.SetMemoryLimit(o.limit(s.read()))
		select {
		case <-ctx.Done():
			debug.SetMemoryLimit(math.MaxInt64)
			return
		case <-t.C:
		}
	}
}

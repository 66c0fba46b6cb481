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
// headroom widens to what the heap would allocate over a Cycle at the rate
// of the last few seconds, up to LoadRatio of the live heap, and narrows
// again within seconds of the load passing.
//
// A start is the other way round: it builds the live heap, a million
// households' state, and makes little garbage, so Pause has the collector
// wait until it is done, within a memory limit the caller sets.
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
	// Cycle is how long, under load, a collection should be from the next:
	// the headroom holds what the heap allocates over a Cycle (up to
	// LoadRatio of the live heap).
	Cycle time.Duration
	// RateOver is over how long the heap's allocation rate is measured:
	// short, so that the headroom narrows soon after the load has passed.
	RateOver time.Duration
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
	// rate is what the heap allocated a second over the last RateOver.
	rate float64
	// inUse is what the limit counts less the heap held free, which a new
	// allocation takes first.
	inUse uint64
}

// limit returns the memory limit for u, and whether the load widened its
// headroom past the one at rest.
func (o Options) limit(u usage) (limit int64, widened bool) {
	rest := max(o.Min, uint64(float64(u.live)*o.Ratio))
	load := uint64(min(u.rate*o.Cycle.Seconds(), float64(u.live)*o.LoadRatio))
	return int64(u.live + u.other + max(rest, load)), load > rest
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
// allocated in all at each of the last RateOver's readings.
type sampler struct {
	samples []metrics.Sample
	every   time.Duration
	// allocs is a ring of the heap's total allocations, a reading each
	// Every; next is where the next reading goes, and count how many
	// readings it holds.
	allocs []uint64
	next   int
	count  int
}

func newSampler(o Options) *sampler {
	s := &sampler{samples: make([]metrics.Sample, len(names)), every: o.Every}
	for i, n := range names {
		s.samples[i].Name = n
	}
	if o.Every > 0 && o.RateOver > 0 {
		s.allocs = make([]uint64, max(1, int(o.RateOver/o.Every)))
	}
	return s
}

func (s *sampler) read() usage {
	metrics.Read(s.samples)
	v := func(i int) uint64 { return s.samples[i].Value.Uint64() }
	u := usage{live: v(0), other: v(1) - v(2) - v(3) - v(4) - v(5), inUse: v(1) - v(4) - v(5)}
	u.rate = s.record(v(6))
	return u
}

// record keeps the heap's total allocations, read every Every, and returns
// what was allocated a second since the oldest reading kept: over the last
// RateOver once there are that many readings; 0 at the first.
func (s *sampler) record(total uint64) float64 {
	if len(s.allocs) == 0 {
		return 0
	}
	oldest := s.allocs[(s.next+len(s.allocs)-s.count)%len(s.allocs)]
	intervals := s.count
	s.count = min(s.count+1, len(s.allocs))
	s.allocs[s.next] = total // the oldest, once the ring is full
	s.next = (s.next + 1) % len(s.allocs)
	if intervals == 0 {
		return 0
	}
	return float64(total-oldest) / (float64(intervals) * s.every.Seconds())
}

// Run sets the limit now and every o.Every until ctx ends, then lifts it.
// When the load has passed, it returns what the heap grew into to the
// system at once: the runtime would give it back only bit by bit, and the
// monitor at rest is what its resident set is judged by. The limit is
// process-wide: run one per process.
func Run(ctx context.Context, o Options) {
	s := newSampler(o)
	t := time.NewTicker(o.Every)
	defer t.Stop()
	underLoad := false
	for {
		limit, widened := o.limit(s.read())
		// While a load is paused, a collection forced here would mark
		// what it has built so far; the next reading after it decides.
		if setLimit(limit) {
			if underLoad && !widened {
				debug.FreeOSMemory()
			}
			underLoad = widened
		}
		select {
		case <-ctx.Done():
			setLimit(math.MaxInt64)
			return
		case <-t.C:
		}
	}
}

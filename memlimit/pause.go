package memlimit

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// paused is the collector's pause while monitors of this process build
// their state. The limit and GOGC are the process's: the first Pause sets
// them, the last resume restores them, and Run, while any load is under
// way, leaves its limit for the resume to set.
var paused struct {
	sync.Mutex
	loads     int
	gcPercent int
	limit     int64 // restored at the last resume
}

// Pause turns the collector off while the caller builds a heap that lives
// on (a start loading a million households' state, which makes little
// garbage): each collection there marks again what was just built, half
// a second of CPU at a million households. The soft memory limit
// bounds the heap meanwhile: budget bytes above what the process holds
// now, or the limit already set if lower. A heap that reaches it is
// collected, so a budget guessed short costs collections, not memory past
// it. resume puts both settings back; a second call does nothing.
func Pause(budget uint64) (resume func()) {
	paused.Lock()
	defer paused.Unlock()
	base := debug.SetMemoryLimit(-1) // another load's, budget and all
	if paused.loads == 0 {
		paused.gcPercent = debug.SetGCPercent(-1)
		paused.limit = base
		base = int64(min(inUse(), math.MaxInt64))
	}
	paused.loads++
	limit := int64(math.MaxInt64)
	if budget < uint64(math.MaxInt64-base) {
		limit = base + int64(budget)
	}
	debug.SetMemoryLimit(min(paused.limit, limit))
	var once sync.Once
	return func() {
		once.Do(func() {
			paused.Lock()
			defer paused.Unlock()
			paused.loads--
			if paused.loads == 0 {
				debug.SetMemoryLimit(paused.limit)
				debug.SetGCPercent(paused.gcPercent)
			}
		})
	}
}

// setLimit sets the soft memory limit, or, while a load is paused, has
// the last resume set it.
func setLimit(limit int64) {
	paused.Lock()
	defer paused.Unlock()
	if paused.loads > 0 {
		paused.limit = limit
		return
	}
	debug.SetMemoryLimit(limit)
}

// inUse is the memory the process holds that the soft limit counts, less
// the heap it holds free: what a new allocation takes first.
func inUse() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64() - s[2].Value.Uint64()
}

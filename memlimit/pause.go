package memlimit

import (
	"math"
	"runtime/debug"
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
	// bound is the loads' limit: what the process held when the first
	// began, and every load's budget.
	bound int64
	// runLimit is the limit Run set last, if runSet. A limit other than it
	// was set from outside (GOMEMLIMIT) and caps the loads'.
	runSet   bool
	runLimit int64
}

// Pause turns the collector off while the caller builds a heap that lives
// on (a start loading a million households' state, which makes little
// garbage): each collection there marks again what was just built, half
// a second of CPU at a million households. The soft memory limit
// bounds the heap meanwhile: budget bytes above what the process holds
// now, or a limit set from outside if lower. Run's limit, a headroom over
// the live heap of a standby about to take over, is no bound for the load:
// it would have the collector run back to back. A heap that reaches the
// bound is collected, so a budget guessed short costs collections, not
// memory past it. resume puts both settings back; a second call does
// nothing.
func Pause(budget uint64) (resume func()) {
	paused.Lock()
	defer paused.Unlock()
	if paused.loads == 0 {
		paused.gcPercent = debug.SetGCPercent(-1)
		paused.limit = debug.SetMemoryLimit(-1)
		paused.bound = int64(min(newSampler(Options{}).read().inUse, math.MaxInt64))
	}
	paused.loads++
	if budget < uint64(math.MaxInt64-paused.bound) {
		paused.bound += int64(budget)
	} else {
		paused.bound = math.MaxInt64
	}
	limit := paused.bound
	if !paused.runSet || paused.limit != paused.runLimit {
		limit = min(limit, paused.limit)
	}
	debug.SetMemoryLimit(limit)
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

// setLimit sets Run's soft memory limit and reports whether it took
// effect: while a load is paused, the last resume sets it.
func setLimit(limit int64) (applied bool) {
	paused.Lock()
	defer paused.Unlock()
	paused.runSet, paused.runLimit = true, limit
	if paused.loads > 0 {
		paused.limit = limit
		return false
	}
	debug.SetMemoryLimit(limit)
	return true
}

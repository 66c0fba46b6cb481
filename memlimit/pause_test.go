package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/testkit"
)

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink [][]byte

func TestPauseHoldsTheCollectorWithinTheBudget(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()

	resume := Pause(512 << 20)
	if gcPercent, limit := testkit.CollectorSettings(); gcPercent != -1 || limit < 512<<20 || limit > 1<<30 {
		t.Fatalf("paused: GOGC %d, limit %d MiB; want off, 512 MiB above what the process holds", gcPercent, limit>>20)
	}
	// 128 MiB made and thrown away: no collection within the budget.
	before := gcCycles()
	for range 128 {
		sink = append(sink[:0], make([]byte, 1<<20))
	}
	if n := gcCycles() - before; n != 0 {
		t.Errorf("%d collections while paused, within the budget", n)
	}
	resume()
	resume() // once only
	if gcPercent, limit := testkit.CollectorSettings(); gcPercent != 100 || limit != math.MaxInt64 {
		t.Errorf("resumed: GOGC %d, limit %d; want 100 and none", gcPercent, limit)
	}

	// Past the budget, the limit has the heap collected. The garbage made
	// above is collected first: a collection of it still under way would
	// free room for what follows.
	runtime.GC()
	resume = Pause(16 << 20)
	before = gcCycles()
	for range 128 {
		sink = append(sink[:0], make([]byte, 1<<20))
	}
	// The collection the limit started may still be marking.
	for deadline := time.Now().Add(10 * time.Second); gcCycles() == before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if gcCycles() == before {
		t.Error("no collection after 128 MiB made on a budget of 16 MiB")
	}
	resume()
	sink = nil
}

func TestPauseKeepsALowerLimitAndNests(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	// GOMEMLIMIT below what the load would take stays.
	debug.SetMemoryLimit(32 << 20)
	resume := Pause(1 << 40)
	if _, limit := testkit.CollectorSettings(); limit != 32<<20 {
		t.Errorf("paused under a limit of 32 MiB: limit %d MiB", limit>>20)
	}
	resume()
	if gcPercent, limit := testkit.CollectorSettings(); gcPercent != 100 || limit != 32<<20 {
		t.Errorf("resumed: GOGC %d, limit %d MiB; want 100 and 32 MiB", gcPercent, limit>>20)
	}
	debug.SetMemoryLimit(math.MaxInt64)

	// Two loads at once: the second's budget adds to the first's, and the
	// settings come back when both are done, in either order.
	first := Pause(256 << 20)
	_, one := testkit.CollectorSettings()
	second := Pause(256 << 20)
	if _, two := testkit.CollectorSettings(); two != one+256<<20 {
		t.Errorf("second load: limit %d MiB, want %d MiB", two>>20, (one+256<<20)>>20)
	}
	first()
	if gcPercent, _ := testkit.CollectorSettings(); gcPercent != -1 {
		t.Errorf("one of two loads done: GOGC %d, want off", gcPercent)
	}
	second()
	if gcPercent, limit := testkit.CollectorSettings(); gcPercent != 100 || limit != math.MaxInt64 {
		t.Errorf("both done: GOGC %d, limit %d; want 100 and none", gcPercent, limit)
	}
}

// forgetRun has the package forget Run's last limit when t ends: a limit
// set by another test is then from outside.
func forgetRun(t *testing.T) {
	t.Cleanup(func() {
		paused.Lock()
		paused.runSet = false
		paused.Unlock()
	})
}

// Run's limit, set during a pause, waits for the load's resume.
func TestLimitSetDuringAPause(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	forgetRun(t)

	resume := Pause(1 << 30)
	_, paused := testkit.CollectorSettings()
	setLimit(64 << 20)
	if _, limit := testkit.CollectorSettings(); limit != paused {
		t.Errorf("limit %d MiB during the pause, want the pause's %d MiB", limit>>20, paused>>20)
	}
	resume()
	if _, limit := testkit.CollectorSettings(); limit != 64<<20 {
		t.Errorf("resumed: limit %d MiB, want the one set meanwhile, 64 MiB", limit>>20)
	}
	setLimit(32 << 20)
	if _, limit := testkit.CollectorSettings(); limit != 32<<20 {
		t.Errorf("not paused: limit %d MiB, want 32 MiB at once", limit>>20)
	}
}

// A standby runs Run before it takes over and loads: Run's limit, a
// headroom over the standby's small heap, gives way to the load's bound,
// and comes back at the resume.
func TestPauseReplacesRunsLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	forgetRun(t)

	if !setLimit(64 << 20) {
		t.Fatal("Run's limit not set with no load paused")
	}
	resume := Pause(1 << 30)
	if _, limit := testkit.CollectorSettings(); limit < 1<<30 || limit > 2<<30 {
		t.Errorf("paused after Run set 64 MiB: limit %d MiB, want 1 GiB above what the process holds", limit>>20)
	}
	resume()
	if gcPercent, limit := testkit.CollectorSettings(); gcPercent != 100 || limit != 64<<20 {
		t.Errorf("resumed: GOGC %d, limit %d MiB; want 100 and Run's 64 MiB", gcPercent, limit>>20)
	}
}

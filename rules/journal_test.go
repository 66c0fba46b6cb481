package rules

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// recording is a journal in memory.
type recording struct {
	mu       sync.Mutex
	readings []Reading // the reading of sequence number i+1
}

func (j *recording) Append(r Reading) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.readings = append(j.readings, r)
	return uint64(len(j.readings))
}

// TestReplayAfterTheSavedState: a household's state saved hours before a
// crash, with the readings recorded since replayed over it, keeps its
// countdown where the readings left it, not where the state did.
func TestReplayAfterTheSavedState(t *testing.T) {
	j := &recording{}
	e := newEngine(t)
	e.SetJournal(j)
	run(e, every(0, 3*h, 15*m, usedHourly))
	saved := map[string][]byte{}
	next := restart(t, e, saved, t0.Add(3*h))
	savedUpTo := uint64(len(j.readings))
	run(e, every(3*h+15*m, 6*h, 15*m, usedHourly)) // water last used at 6h

	next.SetJournal(j)
	// What the state holds is skipped, but the household is written again
	// at the next checkpoint: the state may be a snapshot's.
	for i, r := range j.readings[:savedUpTo] {
		if _, applied := next.Replay(uint64(i+1), r); applied {
			t.Fatalf("reading %d, held by the state, applied again", i+1)
		}
	}
	if got := checkpointed(t, next); !slices.Equal(got, []string{"h1"}) {
		t.Fatalf("checkpoint after replaying what the state holds: %v, want h1", got)
	}
	var replayed []uint64
	for i, r := range slices.Clone(j.readings) {
		seq := uint64(i + 1)
		if alerts, applied := next.Replay(seq, r); applied {
			replayed = append(replayed, seq)
			if len(alerts) > 0 {
				t.Errorf("replaying %d raised %v", seq, names(alerts))
			}
		}
	}
	if want := uint64(len(j.readings)) - savedUpTo; uint64(len(replayed)) != want || replayed[0] != savedUpTo+1 {
		t.Fatalf("replayed %v; want the %d readings after %d", replayed, want, savedUpTo)
	}
	if got := next.Applied(); got != uint64(len(j.readings)) {
		t.Errorf("Applied = %d after the replay, want %d", got, len(j.readings))
	}
	// After the crash the register stands still: water was last used at 6h.
	if got := run(next, every(6*h+15*m, 19*h, 15*m, unchanged(60))); !slices.Equal(got, []string{"18h0m0s water_no_use"}) {
		t.Errorf("after the replay: %q, want water_no_use at 18h (6h + 12h)", got)
	}
	for i, r := range j.readings {
		if _, applied := next.Replay(uint64(i+1), r); applied {
			t.Fatalf("reading %d replayed twice", i+1)
		}
	}
}

// TestReplaySkipsWhatIsNoLongerRegistered: a recorded reading of a
// household deleted meanwhile, or of a device it no longer has, is not
// applied: it must not bring the household back.
func TestReplaySkipsWhatIsNoLongerRegistered(t *testing.T) {
	e := newEngine(t)
	e.ExpectDevice("h1", SavedDevice{ID: "wm-1", Kind: registry.WaterMeter}, t0)
	tests := []struct {
		name string
		r    Reading
	}{
		{"household deleted", Reading{DeviceID: "wm-9", HouseholdID: "h9", Kind: registry.WaterMeter, Stream: Telemetry, TS: t0, TotalLiters: ptr(1.0)}},
		{"device removed", Reading{DeviceID: "pir-1", HouseholdID: "h1", Kind: registry.MotionSensor, Stream: Event, TS: t0, Motion: ptr(true)}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, applied := e.Replay(uint64(i+1), tt.r); applied {
				t.Errorf("applied")
			}
		})
	}
	if e.Applied() != 0 {
		t.Errorf("Applied = %d, want 0", e.Applied())
	}
	if households := checkpointed(t, e); !slices.Equal(households, []string{"h1"}) {
		t.Errorf("households after the replay: %v, want h1 only", households)
	}
}

// usedHourly is a water meter whose register goes up by ten litres on the
// hour and stands still in between.
func usedHourly(at time.Duration) Reading { return meter(at, 10*float64(at/h)) }

// checkpointed is the households a checkpoint of e writes.
func checkpointed(t *testing.T, e *Engine) []string {
	t.Helper()
	var households []string
	if err := e.Checkpoint(func(batch []State, _ bool) error {
		for _, st := range batch {
			households = append(households, st.HouseholdID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return households
}

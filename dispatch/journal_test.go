package dispatch_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/journal"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/testkit"
)

var journalKey = bytes.Repeat([]byte{7}, 32)

func openJournal(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, journalKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// journaled is what a journal in dir holds, by household.
func journaled(t *testing.T, dir string) []string {
	t.Helper()
	var households []string
	if _, err := openJournal(t, dir).Replay(0, func(_ uint64, r rules.Reading) error {
		households = append(households, r.HouseholdID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return households
}

// stateOf is the rule state of household h1, or of the households ids, in
// e, as a checkpoint writes them one after the other.
func stateOf(t *testing.T, e *rules.Engine, ids ...string) []byte {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"h1"}
	}
	var data []byte
	if err := e.CheckpointHouseholds(ids, func(batch []rules.State, _ bool) error {
		for _, st := range batch {
			data = append(append(data, st.HouseholdID...), st.Data...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return data
}

func (e *env) handle(t *testing.T, r rules.Reading) {
	t.Helper()
	durable, err := e.d.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !closedWithin(durable, 5*time.Second) {
		t.Fatalf("%s of %s not durable", r.Stream, r.DeviceID)
	}
}

// With a journal, a reading is durable once it is in the journal: its
// household's state waits for the checkpoint.
func TestJournal_DurableOnceJournaled(t *testing.T) {
	dir := t.TempDir()
	e := newEnvOn(t, newStore(t), dispatch.Options{Journal: openJournal(t, dir), JournalCheckpoint: time.Hour})
	e.run(t)
	e.handle(t, motion(t0.Add(time.Minute)))
	if states, err := e.db.RuleStates(context.Background()); err != nil || len(states) != 0 {
		t.Errorf("stored rule states %v, %v; want none before the checkpoint", states, err)
	}
	if got := journaled(t, dir); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("journal holds %v, want h1's motion", got)
	}
}

// A crash loses nothing the journal holds: a start replays it over the
// states stored, every household's readings in their order, and the
// households' states are what they were. A second start replays nothing
// twice.
func TestJournal_RestartReplays(t *testing.T) {
	db, dir := newStore(t), t.TempDir()
	households := []string{"h1"}
	for i := 2; i <= 8; i++ {
		id := fmt.Sprintf("h%d", i)
		for _, err := range []error{
			db.CreateHousehold(context.Background(), registry.Household{ID: id, Name: "Zhao Min", Address: "14 Xingfu Road", GridID: "g1"}),
			db.CreateDevice(context.Background(), registry.Device{ID: "pir-" + id, Kind: registry.MotionSensor, HouseholdID: id, SecretHash: "x"}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		households = append(households, id)
	}
	opts := func() dispatch.Options {
		return dispatch.Options{Journal: openJournal(t, dir), JournalCheckpoint: time.Hour}
	}
	before := newEnvOn(t, db, opts())
	before.run(t)
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		before.handle(t, motion(at))
		for _, id := range households[1:] {
			r := motion(at.Add(time.Duration(i) * time.Second))
			r.HouseholdID, r.DeviceID = id, "pir-"+id
			before.handle(t, r)
		}
	}
	want := stateOf(t, before.engine, households...)
	// before is left as a crash leaves it: nothing more written.
	for range 2 {
		after := newEnvOn(t, db, opts())
		if got := stateOf(t, after.engine, households...); !bytes.Equal(got, want) {
			t.Fatalf("state after the replay:\n% x\nwant\n% x", got, want)
		}
	}
}

// A reading that raised an alert has its household's state written before
// it is durable, so a restart does not raise it again.
func TestJournal_AlertedStateWrittenBeforeDurable(t *testing.T) {
	e := newEnvOn(t, newStore(t), dispatch.Options{Journal: openJournal(t, t.TempDir()), JournalCheckpoint: time.Hour})
	e.run(t)
	low := 5.0
	e.handle(t, rules.Reading{HouseholdID: "h1", DeviceID: "pir-1", Kind: registry.MotionSensor,
		Stream: rules.Telemetry, TS: t0.Add(time.Minute), BatteryPct: &low})
	if len(e.tasksOf(t, rules.RuleBatteryLow)) != 1 {
		t.Fatal("no battery_low task")
	}
	states, err := e.db.RuleStates(context.Background())
	if err != nil || len(states) != 1 || states[0].HouseholdID != "h1" {
		t.Errorf("stored rule states %v, %v; want h1's", states, err)
	}
}

// The checkpoint writes the households changed and removes the journal
// behind them; so does a stop.
func TestJournal_Checkpoint(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration
		stop  bool
	}{
		{"every interval", 10 * time.Millisecond, false},
		{"at stop", time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnvOn(t, newStore(t), dispatch.Options{Journal: openJournal(t, dir), JournalCheckpoint: tt.every})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { e.d.Run(ctx) })
			t.Cleanup(func() { cancel(); wg.Wait() })
			e.handle(t, motion(t0.Add(time.Minute)))
			if tt.stop {
				cancel()
				wg.Wait()
			}
			// The gauge is set last, after the journal is released.
			deadline := time.Now().Add(5 * time.Second)
			var took float64
			for {
				states, err := e.db.RuleStates(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				took = testkit.MetricValue(t, e.reg, "eldersafe_journal_checkpoint_seconds")
				if len(states) == 1 && len(journaled(t, dir)) == 0 && took > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("stored rule states %d, journal %v, eldersafe_journal_checkpoint_seconds %v; want h1's state, an empty journal and the checkpoint's time", len(states), journaled(t, dir), took)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if saved, err := e.db.EventClock(context.Background()); err != nil || !saved.Equal(t0.Add(time.Minute)) {
				t.Errorf("stored event clock %v, %v; want the motion's", saved, err)
			}
			if tt.stop {
				return
			}
			// Checkpoints that find nothing changed, every 10 ms, keep the
			// time of the last one that wrote.
			time.Sleep(30 * tt.every)
			if after := testkit.MetricValue(t, e.reg, "eldersafe_journal_checkpoint_seconds"); after != took {
				t.Errorf("eldersafe_journal_checkpoint_seconds = %v after checkpoints that wrote nothing, want %v, the last that wrote", after, took)
			}
		})
	}
}

// A fall's state is written before the journal: a crash can leave a state
// holding a reading the journal never got. The next start numbers its
// readings above it, or a crash after that would take them for ones the
// state holds and skip them.
func TestJournal_NumbersAboveTheStates(t *testing.T) {
	db, dir := newStore(t), t.TempDir()
	opts := func() dispatch.Options {
		// No commit but those the readings ask for.
		return dispatch.Options{Journal: openJournal(t, dir), JournalCheckpoint: time.Hour, CheckpointInterval: time.Hour}
	}
	first := newEnvOn(t, db, opts())
	first.run(t)
	first.handle(t, motion(t0.Add(time.Minute)))
	first.handle(t, fall(t0.Add(2*time.Minute))) // its state written, its record not
	second := newEnvOn(t, db, opts())
	second.run(t)
	second.handle(t, motion(t0.Add(3*time.Minute)))
	want := stateOf(t, second.engine)
	third := newEnvOn(t, db, opts())
	if got := stateOf(t, third.engine); !bytes.Equal(got, want) {
		t.Fatalf("state after the second crash:\n% x\nwant\n% x", got, want)
	}
}

// snapshotFile is a snapshot in a file, as the monitor keeps one.
type snapshotFile string

func (f snapshotFile) Open() (*snapshot.File, error) {
	return snapshot.Open(string(f), journalKey, 2)
}

func (f snapshotFile) Shred() error { return snapshot.Shred(string(f)) }

// write takes the snapshot of e's households, once its Run has returned,
// holding what j (if not nil) has written.
func (f snapshotFile) write(t *testing.T, e *env, j *journal.Journal) {
	t.Helper()
	states, devices, err := e.db.Generations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const parts = 2
	taken := snapshot.Taken{Generation: snapshot.Generation{States: states, Devices: devices}}
	if j != nil {
		taken.Journaled = j.Written()
	}
	if err := snapshot.Write(string(f), journalKey, taken, parts, func(part int, yield func(rules.State, []rules.SavedDevice)) error {
		e.d.SavePart(part, parts, func(st rules.State, known []rules.SavedDevice) bool {
			yield(st, known)
			return true
		})
		return nil
	}, noImage{}); err != nil {
		t.Fatal(err)
	}
}

// noImage is a device cache's image with nothing in it.
type noImage struct{}

func (noImage) Parts() int                        { return 0 }
func (noImage) AppendPart(b []byte, _ int) []byte { return b }

// held is h1's state in e as a snapshot takes it, and whether the store
// lacks it, leaving it as it was.
func held(e *env) (data []byte, unwritten bool) {
	e.engine.SaveAll(func(st rules.State, _ []rules.SavedDevice) bool {
		if st.HouseholdID == "h1" {
			data, unwritten = slices.Clone(st.Data), st.Unwritten
		}
		return true
	})
	return data, unwritten
}

// With a snapshot to be written, a stop leaves the households changed to
// it and keeps the journal: a start from it replays only what came after,
// even when a crash follows that start before anything moved the store's
// generation, and the first checkpoint writes what the stop did not.
func TestJournal_StopLeavesItToTheSnapshot(t *testing.T) {
	db, dir := newStore(t), t.TempDir()
	snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
	opts := func(j *journal.Journal, every time.Duration) dispatch.Options {
		return dispatch.Options{Journal: j, JournalCheckpoint: every, CheckpointInterval: time.Hour, Snapshot: snap}
	}
	j := openJournal(t, dir)
	first := newEnvOn(t, db, opts(j, time.Hour))
	stop(t, first, motion(t0.Add(time.Minute)), motion(t0.Add(2*time.Minute)))
	if states, err := db.RuleStates(context.Background()); err != nil || len(states) != 0 {
		t.Fatalf("stored rule states after the stop: %d, %v; want none, left to the snapshot", len(states), err)
	}
	if got := journaled(t, dir); len(got) != 2 {
		t.Fatalf("journal after the stop holds %v, want both motions", got)
	}
	snap.write(t, first, j)
	want, unwritten := held(first)
	if !unwritten {
		t.Fatal("h1 taken as written before any checkpoint")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	second := newEnvOn(t, db, opts(openJournal(t, dir), time.Hour))
	if got, unwritten := held(second); !bytes.Equal(got, want) || !unwritten {
		t.Fatalf("state from the snapshot (unwritten %v):\n% x\nwant\n% x", unwritten, got, want)
	}
	second.run(t)
	second.handle(t, motion(t0.Add(3*time.Minute)))
	want, _ = held(second)
	// second is left as a crash leaves it: the store's generation has not
	// moved, so the snapshot is still read, and the journal after it.
	third := newEnvOn(t, db, opts(openJournal(t, dir), 10*time.Millisecond))
	if got, unwritten := held(third); !bytes.Equal(got, want) || !unwritten {
		t.Fatalf("state after the crash (unwritten %v):\n% x\nwant\n% x", unwritten, got, want)
	}
	third.run(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		states, err := db.RuleStates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(states) == 1 && bytes.Equal(states[0].Data, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored rule states %v; want h1's, written by the first checkpoint", states)
		}
		time.Sleep(10 * time.Millisecond)
	}
	loadedFrom(t, third, 1, 1)

	// That checkpoint moved the store's state generation; third is left as
	// a crash leaves it, a reading after it. The snapshot's states are
	// older than the store's now, its devices are not (none was written
	// since): the next start takes the devices from it, the states from
	// the store, and replays the journal over them.
	third.handle(t, motion(t0.Add(4*time.Minute)))
	want, _ = held(third)
	fourth := newEnvOn(t, db, opts(openJournal(t, dir), time.Hour))
	if got, _ := held(fourth); !bytes.Equal(got, want) {
		t.Fatalf("state after a crash that followed a checkpoint:\n% x\nwant\n% x", got, want)
	}
	loadedFrom(t, fourth, 0, 1)
}

// TestJournal_ErasureCheckpointsAtOnce: forgetting an erased household
// asks for a checkpoint now, not at the next interval (an hour here), so
// the journal's files holding its readings are shredded within seconds.
func TestJournal_ErasureCheckpointsAtOnce(t *testing.T) {
	dir := t.TempDir()
	e := newEnvOn(t, newStore(t), dispatch.Options{Journal: openJournal(t, dir), JournalCheckpoint: time.Hour})
	e.run(t)
	e.handle(t, motion(t0.Add(time.Minute)))
	// Read from the files alone: a second journal open on them would write.
	pending := func() bool {
		p, err := journal.Pending(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if !pending() {
		t.Fatal("h1's motion not in the journal's files")
	}
	ctx := context.Background()
	if _, err := e.db.DeleteHousehold(ctx, "h1", t0, "test"); err != nil {
		t.Fatal(err)
	}
	e.d.Forget(ctx, "h1")
	deadline := time.Now().Add(5 * time.Second)
	for pending() {
		if time.Now().After(deadline) {
			t.Fatal("the erased household's reading still in the journal's files 5 s after")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

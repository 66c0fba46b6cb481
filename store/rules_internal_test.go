package store

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// TestSaveCheckpointIsOneTransaction makes the store refuse one household of
// a batch and checks that none of the batch was written.
func TestSaveCheckpointIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	if err := db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte(`{"v":1}`)}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	refuse := []string{`CREATE TRIGGER refuse_bad BEFORE INSERT ON rule_state WHEN NEW.household_id = 'bad'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`}
	if onPostgres {
		refuse = []string{`CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.household_id = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER refuse_bad BEFORE INSERT ON rule_state FOR EACH ROW EXECUTE FUNCTION refuse_bad()`}
	}
	for _, q := range refuse {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	err := db.SaveCheckpoint(ctx, []rules.State{
		{HouseholdID: "h1", Data: []byte(`{"v":1,"newest":5}`)},
		{HouseholdID: "h2", Data: []byte(`{"v":1}`)},
		{HouseholdID: "bad", Data: []byte(`{"v":1}`)},
	}, time.Time{})
	if err == nil {
		t.Fatal("a batch with a refused household was saved")
	}
	states, err := db.RuleStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].HouseholdID != "h1" || string(states[0].Data) != `{"v":1}` {
		t.Errorf("after the failed batch: %+v, want only h1 as it was", states)
	}
}

// TestDevicesWrittenSinceByHand: a device moved to another household,
// renamed, made another kind or deleted by hand (the API only deletes, with
// its household) cannot be mended into a snapshot's devices, and the store
// says so; an interval set by hand is a change of its household, and a
// statement that deletes nothing removes nothing.
func TestDevicesWrittenSinceByHand(t *testing.T) {
	for _, c := range []struct {
		name, edit string
		known      bool
		written    int
	}{
		{"moved", `UPDATE devices SET household_id = 'h2' WHERE id = 'd1'`, false, 0},
		{"renamed", `UPDATE devices SET id = 'd9' WHERE id = 'd1'`, false, 0},
		{"made another kind", `UPDATE devices SET kind = 'door_sensor' WHERE id = 'd1'`, false, 0},
		{"deleted", `DELETE FROM devices WHERE id = 'd1'`, false, 0},
		{"interval set", `UPDATE devices SET expected_every_min = 60 WHERE id = 'd1'`, true, 1},
		{"nothing deleted", `DELETE FROM devices WHERE id = 'd404'`, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db := openForTest(t)
			mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid one"}))
			mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "Li", Address: "1 Road", GridID: "g1"}))
			mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Zhao", Address: "2 Road", GridID: "g1"}))
			mustDo(t, db.CreateDevice(ctx, registry.Device{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "s"}))
			_, generation, err := db.Generations(ctx)
			mustDo(t, err)
			_, err = db.w.ExecContext(ctx, c.edit)
			mustDo(t, err)
			written, known, err := db.DevicesWrittenSince(ctx, generation)
			if err != nil || known != c.known || written != c.written {
				t.Errorf("after %s: %d households written, known %v, %v; want %d, %v", c.edit, written, known, err, c.written, c.known)
			}
		})
	}
}

// BenchmarkSaveCheckpoint: a commit of 2,000 households' states (730
// bytes, sealed), each household once, among 200,000 saved, on either
// backend. Run with
// go test -run=^$ -bench=BenchmarkSaveCheckpoint$ ./store/
// (ELDERSAFE_TEST_POSTGRES_URL set: on PostgreSQL too).
func BenchmarkSaveCheckpoint(b *testing.B) {
	const households, batch = 200_000, 2_000
	ctx := context.Background()
	db, err := OpenForTest(b, b.TempDir(), WithFieldKey(make([]byte, 32)))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	data := make([]byte, 730)
	_, _ = rand.Read(data)
	states := make([]rules.State, households)
	for i := range states {
		states[i] = rules.State{HouseholdID: fmt.Sprintf("h%07d", i), Data: data}
	}
	for from := 0; from < households; from += batch {
		if err := db.SaveCheckpoint(ctx, states[from:from+batch], time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		// batch households of all, each once: the engine writes a household once a commit.
		for i := range batch {
			j := i + mrand.IntN(households-i)
			states[i], states[j] = states[j], states[i]
		}
		if err := db.SaveCheckpoint(ctx, states[:batch], time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/state")
}

package store

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

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
	refuse := []string{`CREATE TRIGGER refuse_bad BEFORE INSERT ON rule_state_log WHEN NEW.household_id = 'bad'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`}
	if onPostgres {
		refuse = []string{`CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.household_id = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER refuse_bad BEFORE INSERT ON rule_state_log FOR EACH ROW EXECUTE FUNCTION refuse_bad()`}
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
		t.Errorf("after the failed batch: %q, want only h1 as it was", states)
	}
}

// TestFoldKeepsTheNewest: a fold copies each household's newest logged
// state once and empties the log; a copy of an older entry, as a fold
// running beside another would make, never replaces a newer state.
func TestFoldKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	save := func(id, data string) {
		t.Helper()
		if err := db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: id, Data: []byte(data)}}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	save("h1", "old")
	save("h2", "only")
	save("h1", "new")
	seqs, err := db.newestLogged(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"3", "2"}; !slices.Equal(seqs, want) {
		t.Fatalf("newest entries %q, want %q (h1's second, h2's)", seqs, want)
	}
	// A stale fold's copy of h1's first entry, after its second was copied.
	if err := db.copyLogged(ctx, []string{"3"}); err != nil {
		t.Fatal(err)
	}
	if err := db.copyLogged(ctx, []string{"1"}); err != nil {
		t.Fatal(err)
	}
	var h1 []byte
	if err := db.r.QueryRowContext(ctx, `SELECT data FROM rule_state WHERE household_id = 'h1'`).Scan(&h1); err != nil || string(h1) != "new" {
		t.Errorf("h1's row after a stale copy: %q, %v; want new", h1, err)
	}
	n, err := db.FoldRuleStates(ctx)
	if err != nil || n != 2 {
		t.Fatalf("fold = %d, %v; want 2 households", n, err)
	}
	if n, err := db.FoldRuleStates(ctx); err != nil || n != 0 {
		t.Errorf("second fold = %d, %v; want nothing left in the log", n, err)
	}
	states, err := db.RuleStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []rules.State{{HouseholdID: "h1", Data: []byte("new")}, {HouseholdID: "h2", Data: []byte("only")}}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("states %q, want %q", states, want)
	}

	// A state deleted goes from the log too: no later fold brings it back.
	save("h2", "logged")
	if err := db.DeleteRuleState(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if states, err = db.RuleStates(ctx); err != nil || len(states) != 1 || states[0].HouseholdID != "h1" {
		t.Errorf("after deleting h2: %q, %v; want h1 alone", states, err)
	}
}

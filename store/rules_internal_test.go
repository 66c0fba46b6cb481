package store

import (
	"context"
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

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/feedback"
	"github.com/eldersafe/eldersafe/registry"
)

func TestFalseAlarmsAndSuggestions(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	since := t0.Add(-feedback.Window)
	for _, tc := range []struct {
		fa   feedback.FalseAlarm
		want int
	}{
		{feedback.FalseAlarm{TaskID: "t1", HouseholdID: "h1", Rule: "no_motion", Reason: feedback.SleptLate, At: t0.Add(-40 * 24 * time.Hour)}, 0}, // too old to count
		{feedback.FalseAlarm{TaskID: "t2", HouseholdID: "h1", Rule: "no_motion", Reason: feedback.SleptLate, At: t0.Add(-time.Hour)}, 1},
		{feedback.FalseAlarm{TaskID: "t3", HouseholdID: "h1", Rule: "no_motion", Reason: feedback.WasOut, At: t0}, 1},
		{feedback.FalseAlarm{TaskID: "t4", HouseholdID: "h1", Rule: "no_motion", Reason: feedback.SleptLate, At: t0}, 2},
		{feedback.FalseAlarm{TaskID: "t4", HouseholdID: "h1", Rule: "no_motion", Reason: feedback.SleptLate, At: t0}, 2}, // recorded once
	} {
		n, err := db.RecordFalseAlarm(ctx, tc.fa, since)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.fa.TaskID, n, err, tc.want)
		}
	}
	if _, err := db.RecordFalseAlarm(ctx, feedback.FalseAlarm{TaskID: "t9", HouseholdID: "h404", Rule: "no_motion", Reason: feedback.Other, At: t0}, since); !errors.Is(err, registry.ErrUnknownReference) {
		t.Errorf("unknown household: %v", err)
	}

	s := feedback.Suggestion{HouseholdID: "h1", Rule: "no_motion", Param: "hours", From: 6.0, To: 7.5, Because: "twice slept late", CreatedAt: t0}
	first, added, err := db.AddSuggestion(ctx, s)
	if err != nil || !added || first.ID == "" {
		t.Fatalf("first: %+v %v %v", first, added, err)
	}
	if _, added, err := db.AddSuggestion(ctx, s); err != nil || added {
		t.Errorf("a second pending one for the same parameter: added %v, %v", added, err)
	}
	check := feedback.Suggestion{HouseholdID: "h1", Rule: "fall", Param: feedback.CheckDevice, Because: "false fall", CreatedAt: t0.Add(time.Minute)}
	if _, added, err := db.AddSuggestion(ctx, check); err != nil || !added {
		t.Errorf("a device check: added %v, %v", added, err)
	}
	pending, err := db.PendingSuggestions(ctx, "h1")
	if err != nil || len(pending) != 2 || pending[0].ID != first.ID || pending[0].From != 6.0 || pending[0].To != 7.5 || !pending[0].CreatedAt.Equal(t0) || pending[1].From != nil {
		t.Fatalf("pending: %+v, %v", pending, err)
	}
	if other, err := db.PendingSuggestions(ctx, "h2"); err != nil || len(other) != 0 {
		t.Errorf("pending of h2: %+v, %v", other, err)
	}

	must(t, db.DecideSuggestion(ctx, first.ID, feedback.Approved, "op", t0))
	if err := db.DecideSuggestion(ctx, first.ID, feedback.Rejected, "op", t0); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("decided twice: %v", err)
	}
	if err := db.DecideSuggestion(ctx, "nope", feedback.Rejected, "op", t0); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if got, err := db.Suggestion(ctx, first.ID); err != nil || got.Status != feedback.Approved {
		t.Errorf("after approval: %+v, %v", got, err)
	}
	// Decided, it no longer blocks a new one.
	if _, added, err := db.AddSuggestion(ctx, s); err != nil || !added {
		t.Errorf("after the decision: added %v, %v", added, err)
	}
}

package tasks_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// Actions of the transition table.
const (
	actAck     = "ack"
	actCheckIn = "checkin"
	actResolve = "resolve"
)

// Who acts: the task's owner (its assignee: w1, the primary worker, who also
// acknowledged it when it got that far), another grid worker, or an id nobody registered.
var actors = map[string]string{"owner": ownerID, "other": otherID, "unknown": unknownID}

// into brings a new fall task, opened by w1's grid, into state st.
func (e *env) into(t *testing.T, st tasks.State) string {
	t.Helper()
	ctx := context.Background()
	id := e.openFall(t)
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("into %s: %s: %v", st, name, err)
		}
	}
	switch st {
	case tasks.Open:
	case tasks.Escalated, tasks.Cancelled:
		e.advance(time.Hour)
		e.forceState(t, id, st)
	case tasks.Acknowledged, tasks.OnSite, tasks.Resolved:
		e.advance(time.Minute)
		_, err := e.svc.Ack(ctx, id, ownerID)
		step("ack", err)
		if st == tasks.Acknowledged {
			break
		}
		e.advance(10 * time.Minute)
		_, err = e.svc.CheckIn(ctx, id, ownerID, nil, nil)
		step("checkin", err)
		if st == tasks.OnSite {
			break
		}
		e.advance(10 * time.Minute)
		_, err = e.svc.Resolve(ctx, id, ownerID, "safe", "")
		step("resolve", err)
	default:
		t.Fatalf("into: unknown state %s", st)
	}
	if got := e.task(t, id).State; got != st {
		t.Fatalf("into %s: task is %s", st, got)
	}
	return id
}

// do runs one action of the table.
func (e *env) do(action, id, worker string) (tasks.Task, error) {
	ctx := context.Background()
	switch action {
	case actAck:
		return e.svc.Ack(ctx, id, worker)
	case actCheckIn:
		return e.svc.CheckIn(ctx, id, worker, nil, nil)
	case actResolve:
		return e.svc.Resolve(ctx, id, worker, "needs_help", "took her to the clinic")
	}
	panic("unknown action " + action)
}

// TestTransitions is the whole state machine: every state × every worker action
// × who acts. A refused action is a *TransitionError (an unknown worker, an
// *InvalidError) and leaves the stored task exactly as it was.
func TestTransitions(t *testing.T) {
	type want struct {
		state    tasks.State // the new state; "" when refused
		assignee string      // the owner after the change
		err      string      // "transition" or "invalid" when refused
	}
	var (
		refused = want{err: "transition"}
		invalid = want{err: "invalid"}
		to      = func(st tasks.State, owner string) want { return want{state: st, assignee: owner} }
	)
	table := []struct {
		state  tasks.State
		action string
		by     string
		want   want
	}{
		{tasks.Open, actAck, "owner", to(tasks.Acknowledged, ownerID)},
		{tasks.Open, actAck, "other", to(tasks.Acknowledged, otherID)}, // the first to ack owns it
		{tasks.Open, actAck, "unknown", invalid},
		{tasks.Open, actCheckIn, "owner", refused},
		{tasks.Open, actCheckIn, "other", refused},
		{tasks.Open, actCheckIn, "unknown", invalid},
		{tasks.Open, actResolve, "owner", refused},
		{tasks.Open, actResolve, "other", refused},
		{tasks.Open, actResolve, "unknown", invalid},

		{tasks.Acknowledged, actAck, "owner", refused},
		{tasks.Acknowledged, actAck, "other", refused}, // no taking over by acking again
		{tasks.Acknowledged, actAck, "unknown", invalid},
		{tasks.Acknowledged, actCheckIn, "owner", to(tasks.OnSite, ownerID)},
		{tasks.Acknowledged, actCheckIn, "other", refused},
		{tasks.Acknowledged, actCheckIn, "unknown", invalid},
		{tasks.Acknowledged, actResolve, "owner", refused},
		{tasks.Acknowledged, actResolve, "other", refused},
		{tasks.Acknowledged, actResolve, "unknown", invalid},

		{tasks.OnSite, actAck, "owner", refused},
		{tasks.OnSite, actAck, "other", refused},
		{tasks.OnSite, actAck, "unknown", invalid},
		{tasks.OnSite, actCheckIn, "owner", refused},
		{tasks.OnSite, actCheckIn, "other", refused},
		{tasks.OnSite, actCheckIn, "unknown", invalid},
		{tasks.OnSite, actResolve, "owner", to(tasks.Resolved, ownerID)},
		{tasks.OnSite, actResolve, "other", refused},
		{tasks.OnSite, actResolve, "unknown", invalid},

		{tasks.Resolved, actAck, "owner", refused},
		{tasks.Resolved, actAck, "other", refused},
		{tasks.Resolved, actAck, "unknown", invalid},
		{tasks.Resolved, actCheckIn, "owner", refused},
		{tasks.Resolved, actCheckIn, "other", refused},
		{tasks.Resolved, actCheckIn, "unknown", invalid},
		{tasks.Resolved, actResolve, "owner", refused},
		{tasks.Resolved, actResolve, "other", refused},
		{tasks.Resolved, actResolve, "unknown", invalid},

		{tasks.Escalated, actAck, "owner", to(tasks.Acknowledged, ownerID)},
		{tasks.Escalated, actAck, "other", to(tasks.Acknowledged, otherID)},
		{tasks.Escalated, actAck, "unknown", invalid},
		{tasks.Escalated, actCheckIn, "owner", refused},
		{tasks.Escalated, actCheckIn, "other", refused},
		{tasks.Escalated, actCheckIn, "unknown", invalid},
		{tasks.Escalated, actResolve, "owner", refused},
		{tasks.Escalated, actResolve, "other", refused},
		{tasks.Escalated, actResolve, "unknown", invalid},

		{tasks.Cancelled, actAck, "owner", refused},
		{tasks.Cancelled, actAck, "other", refused},
		{tasks.Cancelled, actAck, "unknown", invalid},
		{tasks.Cancelled, actCheckIn, "owner", refused},
		{tasks.Cancelled, actCheckIn, "other", refused},
		{tasks.Cancelled, actCheckIn, "unknown", invalid},
		{tasks.Cancelled, actResolve, "owner", refused},
		{tasks.Cancelled, actResolve, "other", refused},
		{tasks.Cancelled, actResolve, "unknown", invalid},
	}

	// The table is complete: every state, action and actor, once.
	seen := map[string]bool{}
	for _, tc := range table {
		seen[string(tc.state)+"/"+tc.action+"/"+tc.by] = true
	}
	if n := len(tasks.States) * 3 * len(actors); len(seen) != n || len(table) != n {
		t.Fatalf("table has %d cases (%d distinct), want %d", len(table), len(seen), n)
	}

	for _, tc := range table {
		t.Run(string(tc.state)+"/"+tc.action+"/"+tc.by, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := e.into(t, tc.state)
			before := e.task(t, id)
			now := e.advance(7 * time.Minute)

			got, err := e.do(tc.action, id, actors[tc.by])
			after := e.task(t, id)

			if tc.want.err != "" {
				wantError(t, err, tc.want.err)
				if te := (*tasks.TransitionError)(nil); errors.As(err, &te) && te.State != tc.state {
					t.Errorf("TransitionError.State = %s, want %s", te.State, tc.state)
				}
				if got.ID != "" {
					t.Errorf("a refused action returned task %+v", got)
				}
				assertUnchanged(t, before, after)
				return
			}

			wantError(t, err, "")
			if !reflect.DeepEqual(got, after) {
				t.Errorf("returned task differs from the stored one:\n got %+v\nstored %+v", got, after)
			}
			if after.State != tc.want.state || after.AssigneeID != tc.want.assignee {
				t.Errorf("task is %s, owned by %q; want %s, owned by %q", after.State, after.AssigneeID, tc.want.state, tc.want.assignee)
			}
			entry := lastEntry(t, after)
			if len(after.Timeline) != len(before.Timeline)+1 || !entry.At.Equal(now) || entry.Actor != actors[tc.by] {
				t.Errorf("timeline %v: last entry %+v, want one new entry at %v by %s", entryTypes(after.Timeline), entry, now, actors[tc.by])
			}
			// Only the action's own fields change.
			want := before
			want.State, want.AssigneeID, want.Timeline = after.State, tc.want.assignee, after.Timeline
			switch tc.action {
			case actAck:
				want.AckedAt = &now
				if entry.Type != tasks.EntryAcknowledged {
					t.Errorf("entry type = %s, want acknowledged", entry.Type)
				}
			case actCheckIn:
				want.OnSiteAt = &now
				if entry.Type != tasks.EntryCheckedIn || entry.Data != nil {
					t.Errorf("entry = %+v, want checked_in without a position", entry)
				}
			case actResolve:
				want.ClosedAt, want.Outcome, want.Note = &now, "needs_help", "took her to the clinic"
				if entry.Type != tasks.EntryResolved || !reflect.DeepEqual(entry.Data, map[string]any{"outcome": "needs_help"}) {
					t.Errorf("entry = %+v, want resolved with the outcome", entry)
				}
			}
			if !reflect.DeepEqual(after, want) {
				t.Errorf("stored task\n got %+v\nwant %+v", after, want)
			}
		})
	}
}

// TestTransitions_BadRequests: requests wrong whatever the state.
func TestTransitions_BadRequests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fn   func(s *tasks.Service, id string) error
		want string
	}{
		{"AckNoWorker", func(s *tasks.Service, id string) error { _, err := s.Ack(ctx, id, ""); return err }, "invalid"},
		{"CheckInNoWorker", func(s *tasks.Service, id string) error { _, err := s.CheckIn(ctx, id, "", nil, nil); return err }, "invalid"},
		{"ResolveNoWorker", func(s *tasks.Service, id string) error { _, err := s.Resolve(ctx, id, "", "safe", ""); return err }, "invalid"},
		{"AckUnknownTask", func(s *tasks.Service, _ string) error { _, err := s.Ack(ctx, "no-such-task", ownerID); return err }, "not_found"},
		{"CheckInUnknownTask", func(s *tasks.Service, _ string) error {
			_, err := s.CheckIn(ctx, "no-such-task", ownerID, nil, nil)
			return err
		}, "not_found"},
		{"ResolveUnknownTask", func(s *tasks.Service, _ string) error {
			_, err := s.Resolve(ctx, "no-such-task", ownerID, "safe", "")
			return err
		}, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := e.into(t, tasks.OnSite)
			before := e.task(t, id)
			wantError(t, tc.fn(e.svc, id), tc.want)
			assertUnchanged(t, before, e.task(t, id))
		})
	}
}

// TestAck_FirstAckerOwns: another worker who acknowledges first takes the task
// over from the assignee, who can then neither check in nor resolve.
func TestAck_FirstAckerOwns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	id := e.openFall(t)

	now := e.advance(3 * time.Minute)
	got, err := e.svc.Ack(ctx, id, otherID)
	if err != nil {
		t.Fatalf("Ack by %s: %v", otherID, err)
	}
	if got.AssigneeID != otherID || got.State != tasks.Acknowledged {
		t.Fatalf("after ack: %s owned by %q, want acknowledged owned by %s", got.State, got.AssigneeID, otherID)
	}
	timeEq(t, "acked_at", got.AckedAt, now)
	if got.AckDueAt.Before(now) {
		t.Errorf("ack_due_at %v before the ack at %v: test clock is off", got.AckDueAt, now)
	}

	// The former assignee acks too late, and may not check in.
	_, err = e.svc.Ack(ctx, id, ownerID)
	wantError(t, err, "transition")
	_, err = e.svc.CheckIn(ctx, id, ownerID, nil, nil)
	wantError(t, err, "transition")
	if !strings.Contains(err.Error(), otherID) {
		t.Errorf("CheckIn error %q does not name the owner %s", err, otherID)
	}

	e.advance(20 * time.Minute)
	if _, err := e.svc.CheckIn(ctx, id, otherID, nil, nil); err != nil {
		t.Fatalf("CheckIn by the owner: %v", err)
	}
	_, err = e.svc.Resolve(ctx, id, ownerID, "safe", "")
	wantError(t, err, "transition")
	closed := e.advance(30 * time.Minute)
	got, err = e.svc.Resolve(ctx, id, otherID, "safe", "")
	if err != nil {
		t.Fatalf("Resolve by the owner: %v", err)
	}
	if got.State != tasks.Resolved || got.AssigneeID != otherID {
		t.Errorf("resolved task: %s owned by %q", got.State, got.AssigneeID)
	}
	timeEq(t, "closed_at", got.ClosedAt, closed)
	wantTypes := []string{tasks.EntryOpened, tasks.EntryAcknowledged, tasks.EntryCheckedIn, tasks.EntryResolved}
	if types := entryTypes(got.Timeline); !slices.Equal(types, wantTypes) {
		t.Errorf("timeline = %v, want %v (refused actions leave no entry)", types, wantTypes)
	}
}

// TestResolve_Outcome: every outcome of the contract is accepted and stored
// with the note; anything else, or an over-long note, is invalid.
func TestResolve_Outcome(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		outcome, note string
		err           string
	}{
		{"", "", "invalid"},
		{"Safe", "", "invalid"},
		{"fine", "", "invalid"},
		{"safe ", "", "invalid"},
		{"safe", strings.Repeat("x", 2001), "invalid"},
		{"safe", strings.Repeat("x", 2000), ""},
		{"other", "家属已接走 — taken in by family", ""},
	}
	for _, o := range tasks.Outcomes {
		cases = append(cases, struct{ outcome, note, err string }{o, "", ""})
	}
	for _, tc := range cases {
		name := tc.outcome
		if name == "" {
			name = "empty"
		}
		t.Run(name+"/note"+strconv.Itoa(len(tc.note)), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := e.into(t, tasks.OnSite)
			before := e.task(t, id)
			now := e.advance(time.Hour)

			got, err := e.svc.Resolve(ctx, id, ownerID, tc.outcome, tc.note)
			wantError(t, err, tc.err)
			after := e.task(t, id)
			if tc.err != "" {
				assertUnchanged(t, before, after)
				return
			}
			if after.State != tasks.Resolved || after.Outcome != tc.outcome || after.Note != tc.note {
				t.Errorf("stored: %s, outcome %q, note %q; want resolved, %q, %q", after.State, after.Outcome, after.Note, tc.outcome, tc.note)
			}
			timeEq(t, "closed_at", after.ClosedAt, now)
			if !reflect.DeepEqual(got, after) {
				t.Errorf("returned %+v, stored %+v", got, after)
			}
		})
	}
}

// TestCheckIn_Location: a position is both lat and lon, in range, and is
// recorded on the check-in timeline entry.
func TestCheckIn_Location(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		lat, lon *float64
		err      string
	}{
		{"None", nil, nil, ""},
		{"Both", ptr(31.2304), ptr(121.4737), ""},
		{"Corners", ptr(-90), ptr(180), ""},
		{"OtherCorners", ptr(90), ptr(-180), ""},
		{"Zero", ptr(0), ptr(0), ""},
		{"OnlyLat", ptr(31.2), nil, "invalid"},
		{"OnlyLon", nil, ptr(121.4), "invalid"},
		{"LatHigh", ptr(90.0001), ptr(121.4), "invalid"},
		{"LatLow", ptr(-91), ptr(121.4), "invalid"},
		{"LonHigh", ptr(31.2), ptr(180.5), "invalid"},
		{"LonLow", ptr(31.2), ptr(-181), "invalid"},
		{"LatInf", ptr(math.Inf(1)), ptr(121.4), "invalid"},
		{"LatNaN", ptr(math.NaN()), ptr(121.4), "invalid"},
		{"LonNaN", ptr(31.2), ptr(math.NaN()), "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := e.into(t, tasks.Acknowledged)
			before := e.task(t, id)
			now := e.advance(12 * time.Minute)

			got, err := e.svc.CheckIn(ctx, id, ownerID, tc.lat, tc.lon)
			wantError(t, err, tc.err)
			after := e.task(t, id)
			if tc.err != "" {
				assertUnchanged(t, before, after)
				return
			}
			if after.State != tasks.OnSite {
				t.Errorf("state = %s, want on_site", after.State)
			}
			timeEq(t, "on_site_at", after.OnSiteAt, now)
			entry := lastEntry(t, after)
			var wantData map[string]any
			if tc.lat != nil {
				wantData = map[string]any{"lat": *tc.lat, "lon": *tc.lon}
			}
			if entry.Type != tasks.EntryCheckedIn || entry.Actor != ownerID || !entry.At.Equal(now) ||
				!reflect.DeepEqual(entry.Data, wantData) {
				t.Errorf("entry = %+v, want checked_in by %s at %v with data %v", entry, ownerID, now, wantData)
			}
			if !reflect.DeepEqual(got, after) {
				t.Errorf("returned %+v, stored %+v", got, after)
			}
		})
	}
}

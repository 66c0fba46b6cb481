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
	actAck      = "ack"
	actCheckIn  = "checkin"
	actResolve  = "resolve"
	actHandover = "handover"
	actCancel   = "cancel"
	actEscalate = "escalate"
)

// operatorID is who cancels: an operator's principal, not a worker.
const operatorID = "op-1"

// Who acts: the task's owner (its assignee: w1, the primary worker, who also
// acknowledged it when it got that far), another grid worker, or an id nobody
// registered; an operator cancels and the system escalates.
var actors = map[string]string{"owner": ownerID, "other": otherID, "unknown": unknownID, "operator": operatorID, "system": tasks.ActorSystem}

// actionActors is who each action of the table is tried by.
var actionActors = map[string][]string{
	actAck:      {"owner", "other", "unknown"},
	actCheckIn:  {"owner", "other", "unknown"},
	actResolve:  {"owner", "other", "unknown"},
	actHandover: {"owner", "other", "unknown"},
	actCancel:   {"operator"},
	actEscalate: {"system"},
}

// into brings a new fall task, opened by w1's grid, into state st through the
// service, as a worker, an operator and the clock would.
func (e *env) into(t *testing.T, st tasks.State) string {
	t.Helper()
	ctx := context.Background()
	if st == tasks.Verifying {
		task, opened := e.raise(t, waterAlert(e.clk.Now()))
		if !opened || task.State != tasks.Verifying {
			t.Fatalf("into %s: raised %s task, opened %v", st, task.State, opened)
		}
		return task.ID
	}
	id := e.openFall(t)
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("into %s: %s: %v", st, name, err)
		}
	}
	switch st {
	case tasks.Open:
	case tasks.Escalated:
		e.advance(time.Hour) // past the 5 min of a critical task
		n, err := e.svc.Escalate(ctx)
		step("escalate", err)
		if n != 1 {
			t.Fatalf("into %s: Escalate = %d, want 1", st, n)
		}
	case tasks.Cancelled:
		e.advance(time.Minute)
		_, err := e.svc.Cancel(ctx, id, operatorID, "resident is in hospital")
		step("cancel", err)
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

// handoverTo is whom each actor of the table hands over to: the other worker.
var handoverTo = map[string]string{"owner": otherID, "other": ownerID, "unknown": otherID}

// do runs one action of the table by actor (a key of actors).
func (e *env) do(action, id, actor string) (tasks.Task, error) {
	ctx := context.Background()
	switch action {
	case actAck:
		return e.svc.Ack(ctx, id, actors[actor])
	case actCheckIn:
		return e.svc.CheckIn(ctx, id, actors[actor], nil, nil)
	case actResolve:
		return e.svc.Resolve(ctx, id, actors[actor], "needs_help", "took her to the clinic")
	case actHandover:
		return e.svc.Handover(ctx, id, actors[actor], handoverTo[actor], "my shift ends")
	case actCancel:
		return e.svc.Cancel(ctx, id, actors[actor], "duplicate of a phone report")
	case actEscalate:
		if _, err := e.svc.Escalate(ctx); err != nil {
			return tasks.Task{}, err
		}
		return e.svc.Task(ctx, id)
	}
	panic("unknown action " + action)
}

// TestTransitions is the whole state machine: every state × every action ×
// who acts. A refused action is a *TransitionError (an unknown worker, an
// *InvalidError) and leaves the stored task exactly as it was; so does an
// action that finds nothing to do (a repeated ack, an escalation not due).
func TestTransitions(t *testing.T) {
	type want struct {
		state    tasks.State // the new state; "" when refused or unchanged
		assignee string      // the owner after the change
		err      string      // "transition" or "invalid" when refused
	}
	var (
		refused = want{err: "transition"}
		invalid = want{err: "invalid"}
		same    = want{}
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
		{tasks.Open, actHandover, "owner", refused}, // acknowledge first; anyone may
		{tasks.Open, actHandover, "other", refused},
		{tasks.Open, actHandover, "unknown", invalid},
		{tasks.Open, actCancel, "operator", to(tasks.Cancelled, ownerID)},
		{tasks.Open, actEscalate, "system", to(tasks.Escalated, ownerID)},

		// Nobody owns a verifying task; only its deadline sends a worker.
		{tasks.Verifying, actAck, "owner", refused},
		{tasks.Verifying, actAck, "other", refused},
		{tasks.Verifying, actAck, "unknown", invalid},
		{tasks.Verifying, actCheckIn, "owner", refused},
		{tasks.Verifying, actCheckIn, "other", refused},
		{tasks.Verifying, actCheckIn, "unknown", invalid},
		{tasks.Verifying, actResolve, "owner", refused},
		{tasks.Verifying, actResolve, "other", refused},
		{tasks.Verifying, actResolve, "unknown", invalid},
		{tasks.Verifying, actHandover, "owner", refused},
		{tasks.Verifying, actHandover, "other", refused},
		{tasks.Verifying, actHandover, "unknown", invalid},
		{tasks.Verifying, actCancel, "operator", to(tasks.Cancelled, "")},
		{tasks.Verifying, actEscalate, "system", to(tasks.Open, ownerID)}, // dispatched at verify_until

		{tasks.Acknowledged, actAck, "owner", same},    // a retry: nothing to do
		{tasks.Acknowledged, actAck, "other", refused}, // no taking over by acking again
		{tasks.Acknowledged, actAck, "unknown", invalid},
		{tasks.Acknowledged, actCheckIn, "owner", to(tasks.OnSite, ownerID)},
		{tasks.Acknowledged, actCheckIn, "other", refused},
		{tasks.Acknowledged, actCheckIn, "unknown", invalid},
		{tasks.Acknowledged, actResolve, "owner", refused},
		{tasks.Acknowledged, actResolve, "other", refused},
		{tasks.Acknowledged, actResolve, "unknown", invalid},
		{tasks.Acknowledged, actHandover, "owner", to(tasks.Acknowledged, otherID)},
		{tasks.Acknowledged, actHandover, "other", refused}, // only the owner hands over
		{tasks.Acknowledged, actHandover, "unknown", invalid},
		{tasks.Acknowledged, actCancel, "operator", to(tasks.Cancelled, ownerID)},
		{tasks.Acknowledged, actEscalate, "system", to(tasks.Escalated, ownerID)}, // nobody on site by resolve_due_at

		{tasks.OnSite, actAck, "owner", refused},
		{tasks.OnSite, actAck, "other", refused},
		{tasks.OnSite, actAck, "unknown", invalid},
		{tasks.OnSite, actCheckIn, "owner", refused},
		{tasks.OnSite, actCheckIn, "other", refused},
		{tasks.OnSite, actCheckIn, "unknown", invalid},
		{tasks.OnSite, actResolve, "owner", to(tasks.Resolved, ownerID)},
		{tasks.OnSite, actResolve, "other", refused},
		{tasks.OnSite, actResolve, "unknown", invalid},
		{tasks.OnSite, actHandover, "owner", to(tasks.Acknowledged, otherID)}, // the new owner checks in anew
		{tasks.OnSite, actHandover, "other", refused},
		{tasks.OnSite, actHandover, "unknown", invalid},
		{tasks.OnSite, actCancel, "operator", to(tasks.Cancelled, ownerID)},
		{tasks.OnSite, actEscalate, "system", same}, // someone is there

		{tasks.Resolved, actAck, "owner", refused},
		{tasks.Resolved, actAck, "other", refused},
		{tasks.Resolved, actAck, "unknown", invalid},
		{tasks.Resolved, actCheckIn, "owner", refused},
		{tasks.Resolved, actCheckIn, "other", refused},
		{tasks.Resolved, actCheckIn, "unknown", invalid},
		{tasks.Resolved, actResolve, "owner", refused},
		{tasks.Resolved, actResolve, "other", refused},
		{tasks.Resolved, actResolve, "unknown", invalid},
		{tasks.Resolved, actHandover, "owner", refused},
		{tasks.Resolved, actHandover, "other", refused},
		{tasks.Resolved, actHandover, "unknown", invalid},
		{tasks.Resolved, actCancel, "operator", refused},
		{tasks.Resolved, actEscalate, "system", same},

		{tasks.Escalated, actAck, "owner", to(tasks.Acknowledged, ownerID)},
		{tasks.Escalated, actAck, "other", to(tasks.Acknowledged, otherID)},
		{tasks.Escalated, actAck, "unknown", invalid},
		{tasks.Escalated, actCheckIn, "owner", refused},
		{tasks.Escalated, actCheckIn, "other", refused},
		{tasks.Escalated, actCheckIn, "unknown", invalid},
		{tasks.Escalated, actResolve, "owner", refused},
		{tasks.Escalated, actResolve, "other", refused},
		{tasks.Escalated, actResolve, "unknown", invalid},
		{tasks.Escalated, actHandover, "owner", to(tasks.Acknowledged, otherID)}, // the assignee who missed it finds a taker
		{tasks.Escalated, actHandover, "other", refused},
		{tasks.Escalated, actHandover, "unknown", invalid},
		{tasks.Escalated, actCancel, "operator", to(tasks.Cancelled, ownerID)},
		{tasks.Escalated, actEscalate, "system", same}, // once

		{tasks.Cancelled, actAck, "owner", refused},
		{tasks.Cancelled, actAck, "other", refused},
		{tasks.Cancelled, actAck, "unknown", invalid},
		{tasks.Cancelled, actCheckIn, "owner", refused},
		{tasks.Cancelled, actCheckIn, "other", refused},
		{tasks.Cancelled, actCheckIn, "unknown", invalid},
		{tasks.Cancelled, actResolve, "owner", refused},
		{tasks.Cancelled, actResolve, "other", refused},
		{tasks.Cancelled, actResolve, "unknown", invalid},
		{tasks.Cancelled, actHandover, "owner", refused},
		{tasks.Cancelled, actHandover, "other", refused},
		{tasks.Cancelled, actHandover, "unknown", invalid},
		{tasks.Cancelled, actCancel, "operator", refused},
		{tasks.Cancelled, actEscalate, "system", same},
	}

	// The table is complete: every state, action and actor, once.
	seen := map[string]bool{}
	for _, tc := range table {
		if !slices.Contains(actionActors[tc.action], tc.by) {
			t.Fatalf("bad case %s/%s/%s", tc.state, tc.action, tc.by)
		}
		seen[string(tc.state)+"/"+tc.action+"/"+tc.by] = true
	}
	n := 0
	for _, who := range actionActors {
		n += len(tasks.States) * len(who)
	}
	if len(seen) != n || len(table) != n {
		t.Fatalf("table has %d cases (%d distinct), want %d", len(table), len(seen), n)
	}

	for _, tc := range table {
		t.Run(string(tc.state)+"/"+tc.action+"/"+tc.by, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{verifyWindow: 20 * time.Minute})
			id := e.into(t, tc.state)
			before := e.task(t, id)
			step := 7 * time.Minute
			if tc.action == actEscalate {
				step = 73 * time.Hour // past every deadline
			}
			now := e.advance(step)

			got, err := e.do(tc.action, id, tc.by)
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
			if tc.want.state == "" {
				assertUnchanged(t, before, after)
				return
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
			var wantEntry tasks.TimelineEntry
			switch {
			case tc.action == actAck:
				if want.AckedAt == nil { // the first acknowledgement stays
					want.AckedAt = &now
				}
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryAcknowledged}
			case tc.action == actCheckIn:
				want.OnSiteAt = &now
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryCheckedIn}
			case tc.action == actResolve:
				want.ClosedAt, want.Outcome, want.Note = &now, "needs_help", "took her to the clinic"
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryResolved, Data: map[string]any{"outcome": "needs_help"}}
			case tc.action == actHandover:
				if want.AckedAt == nil { // the handover is the acknowledgement
					want.AckedAt = &now
				}
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryHandedOver,
					Data: map[string]any{"from_worker_id": ownerID, "to_worker_id": otherID, "reason": "my shift ends"}}
			case tc.action == actCancel:
				want.ClosedAt = &now
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryCancelled, Data: map[string]any{"reason": "duplicate of a phone report"}}
			case tc.action == actEscalate && tc.state == tasks.Verifying:
				want.AckDueAt = now.Add(30 * time.Minute) // high: the acknowledgement deadline starts now
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryDispatched, Data: map[string]any{"assignee_id": ownerID}}
			case tc.action == actEscalate:
				want.EscalatedAt = &now
				deadline, due := tasks.DeadlineAck, before.AckDueAt
				if tc.state == tasks.Acknowledged {
					deadline, due = tasks.DeadlineResolve, before.ResolveDueAt
				}
				wantEntry = tasks.TimelineEntry{Type: tasks.EntryEscalated, Data: map[string]any{
					"deadline": deadline, "due_at": due.Format(time.RFC3339Nano), "escalated_to": []any{otherID, superID}}}
			}
			if entry.Type != wantEntry.Type || !reflect.DeepEqual(entry.Data, wantEntry.Data) {
				t.Errorf("entry = %+v, want type %s with data %v", entry, wantEntry.Type, wantEntry.Data)
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

package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestRaise_Verifying: which alerts open verifying, and who hears of them.
func TestRaise_Verifying(t *testing.T) {
	corroborated := waterAlert(t0)
	corroborated.Signals = []string{"water", "motion"}
	unknownSignals := waterAlert(t0)
	unknownSignals.Signals = nil // an alert the engine did not judge: one signal at most
	cases := []struct {
		name   string
		alert  rules.Alert
		window time.Duration
		want   tasks.State
	}{
		{"WelfareOneSignal", waterAlert(t0), 20 * time.Minute, tasks.Verifying},
		{"WelfareNoSignals", unknownSignals, 20 * time.Minute, tasks.Verifying},
		{"WelfareCorroborated", corroborated, 20 * time.Minute, tasks.Open},
		{"WindowZero", waterAlert(t0), 0, tasks.Open},
		{"AlarmFall", fallAlert(t0), 20 * time.Minute, tasks.Open},
		{"Maintenance", alert(hhMain, rules.RuleBatteryLow, rules.Low, rules.Maintenance, t0, "battery 9%"), 20 * time.Minute, tasks.Open},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{verifyWindow: tc.window})
			task, opened := e.raise(t, tc.alert)
			if !opened || task.State != tc.want {
				t.Fatalf("Raise = %s, opened %v; want %s", task.State, opened, tc.want)
			}
			roles := map[string]int{}
			for _, n := range e.notices(t, task.ID) {
				roles[n.Role]++
				if tc.want == tasks.Verifying && n.Event != tasks.NoticeVerifying {
					t.Errorf("notice %s to %s while verifying, want %s", n.Event, n.Recipient, tasks.NoticeVerifying)
				}
			}
			if tc.want != tasks.Verifying {
				if task.VerifyUntil != nil || task.AssigneeID != ownerID {
					t.Errorf("task verify_until %v, assignee %q; want none, %s", task.VerifyUntil, task.AssigneeID, ownerID)
				}
				return
			}
			if roles[tasks.RecipientWorker] != 0 || roles[tasks.RecipientFamily] == 0 {
				t.Errorf("notices by role %v: want the family only", roles)
			}
			until := t0.Add(tc.window)
			if task.VerifyUntil == nil || !task.VerifyUntil.Equal(until) || !task.AckDueAt.Equal(until) || task.AssigneeID != "" {
				t.Errorf("task verify_until %v, ack_due_at %v, assignee %q; want %v, %v, none", task.VerifyUntil, task.AckDueAt, task.AssigneeID, until, until)
			}
		})
	}
}

// TestAnswerCheck: every answer to a verifying task, and what is refused.
func TestAnswerCheck(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		req   tasks.AnswerRequest
		until time.Duration // with_me's until, after now; 0: none
		want  tasks.State
		err   string
	}{
		{"ResidentOK", tasks.AnswerRequest{By: "wb-1", Role: tasks.ByResident, Answer: tasks.AnswerOK}, 0, tasks.Resolved, ""},
		{"FamilyOK", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerOK}, 0, tasks.Resolved, ""},
		{"FamilyWithMe", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerWithMe}, 0, tasks.Resolved, ""},
		{"FamilyWithMeUntil", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerWithMe}, 48 * time.Hour, tasks.Resolved, ""},
		{"CannotReach", tasks.AnswerRequest{By: "Son", Role: tasks.ByFamily, Answer: tasks.AnswerCannotReach}, 0, tasks.Open, ""},
		{"PleaseVisit", tasks.AnswerRequest{By: "Son", Role: tasks.ByFamily, Answer: tasks.AnswerPleaseVisit}, 0, tasks.Open, ""},
		{"ResidentWithMe", tasks.AnswerRequest{By: "wb-1", Role: tasks.ByResident, Answer: tasks.AnswerWithMe}, 0, "", "invalid"},
		{"UnknownAnswer", tasks.AnswerRequest{By: "Son", Role: tasks.ByFamily, Answer: "fine"}, 0, "", "invalid"},
		{"UnknownRole", tasks.AnswerRequest{By: "Son", Role: "neighbour", Answer: tasks.AnswerOK}, 0, "", "invalid"},
		{"NoOne", tasks.AnswerRequest{Role: tasks.ByFamily, Answer: tasks.AnswerOK}, 0, "", "invalid"},
		{"UntilTooFar", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerWithMe}, 15 * 24 * time.Hour, "", "invalid"},
		{"UntilPast", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerWithMe}, -time.Hour, "", "invalid"},
		{"UntilWithOK", tasks.AnswerRequest{By: "Daughter", Role: tasks.ByFamily, Answer: tasks.AnswerOK}, time.Hour, "", "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{verifyWindow: 20 * time.Minute})
			task, _ := e.raise(t, waterAlert(t0))
			now := e.advance(5 * time.Minute)
			if tc.until != 0 {
				tc.req.Until = now.Add(tc.until)
			}
			before := e.task(t, task.ID)
			workerNotices := func() int {
				n := 0
				for _, x := range e.notices(t, task.ID) {
					if x.Role == tasks.RecipientWorker {
						n++
					}
				}
				return n
			}
			got, err := e.svc.AnswerCheck(ctx, task.ID, tc.req)
			wantError(t, err, tc.err)
			after := e.task(t, task.ID)
			if tc.err != "" {
				assertUnchanged(t, before, after)
				return
			}
			if after.State != tc.want || got.State != tc.want {
				t.Fatalf("task is %s, want %s", after.State, tc.want)
			}
			if len(after.Answers) != 1 || after.Answers[0] != (tasks.Answer{By: tc.req.By, Answer: tc.req.Answer, At: now}) {
				t.Errorf("answers = %+v, want one by %s at %v", after.Answers, tc.req.By, now)
			}
			away, err := e.db.AwayPeriodsOf(ctx, hhMain, now)
			must(t, err)
			if wantAway := tc.until != 0; (len(away) == 1) != wantAway || (wantAway && !away[0].Until.Equal(tc.req.Until)) {
				t.Errorf("away periods %+v, want one until %v: %v", away, tc.req.Until, wantAway)
			}
			switch tc.want {
			case tasks.Resolved:
				if after.Outcome != tasks.OutcomeVerifiedOK || workerNotices() != 0 {
					t.Errorf("outcome %q, %d worker notices; want verified_ok, none", after.Outcome, workerNotices())
				}
			case tasks.Open:
				if after.AssigneeID != ownerID || !after.AckDueAt.Equal(now.Add(30*time.Minute)) || workerNotices() != 1 {
					t.Errorf("assignee %q, ack_due_at %v, %d worker notices; want %s, %v, 1",
						after.AssigneeID, after.AckDueAt, workerNotices(), ownerID, now.Add(30*time.Minute))
				}
			}
			// The task is closed or with a worker: a second answer is
			// recorded or refused, never undoes what the first did.
			again, err := e.svc.AnswerCheck(ctx, task.ID, tasks.AnswerRequest{By: "Son", Role: tasks.ByFamily, Answer: tasks.AnswerPleaseVisit})
			if tc.want == tasks.Resolved {
				wantError(t, err, "transition")
			} else if wantError(t, err, ""); again.State != tasks.Open || len(again.Answers) != 2 {
				t.Errorf("second answer: task %s with %d answers, want open with 2", again.State, len(again.Answers))
			}
		})
	}
}

// TestVerifyDeadline: nobody answers, and the deadline is kept across a
// restart: a new service on the same store sends the worker at verify_until.
func TestVerifyDeadline(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{verifyWindow: 20 * time.Minute})
	task, _ := e.raise(t, waterAlert(t0))
	e.advance(19 * time.Minute)
	if n, err := e.svc.Escalate(ctx); err != nil || n != 0 {
		t.Fatalf("Escalate before verify_until = %d, %v", n, err)
	}
	if got := e.task(t, task.ID); got.State != tasks.Verifying {
		t.Fatalf("task is %s before verify_until, want verifying", got.State)
	}
	restarted := e.newService(t, envOptions{verifyWindow: 20 * time.Minute})
	now := e.advance(time.Minute)
	if n, err := restarted.Escalate(ctx); err != nil || n != 0 {
		t.Fatalf("Escalate at verify_until = %d, %v; want 0 escalated (dispatched is not escalated)", n, err)
	}
	got := e.task(t, task.ID)
	if got.State != tasks.Open || got.AssigneeID != ownerID || !got.AckDueAt.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("task %s for %q, ack due %v; want open for %s, due %v", got.State, got.AssigneeID, got.AckDueAt, ownerID, now.Add(30*time.Minute))
	}
	if entry := lastEntry(t, got); entry.Type != tasks.EntryDispatched || entry.Actor != tasks.ActorSystem {
		t.Errorf("last entry %+v, want dispatched by the system", entry)
	}
	// From now on it is any visit task: the acknowledgement deadline escalates it.
	e.advance(30 * time.Minute)
	if n, err := restarted.Escalate(ctx); err != nil || n != 1 {
		t.Fatalf("Escalate at ack_due_at = %d, %v; want 1", n, err)
	}
}

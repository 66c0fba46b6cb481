package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// slaTask is one task of the SLA fixture: opened at t0 + opened, with the
// acknowledgement and closing that many minutes after its opening (-1: none).
type slaTask struct {
	household string
	sev       rules.Severity
	opened    time.Duration
	ackMin    int
	closeMin  int
	state     tasks.State
}

// insertSLATasks writes the fixture straight to the store, with the contract's
// deadlines (critical: ack 5 min; high: 30 min; resolve 72 h).
func insertSLATasks(t *testing.T, e *env, list []slaTask) {
	t.Helper()
	ctx := context.Background()
	d := tasks.DefaultDeadlines()
	must(t, e.db.Update(ctx, func(tx tasks.Tx) error {
		for i, x := range list {
			opened := t0.Add(x.opened)
			task := tasks.Task{
				ID: fmt.Sprintf("sla-%02d", i), HouseholdID: x.household, Rule: fmt.Sprintf("r%02d", i), Severity: x.sev,
				Kind: rules.Visit, State: x.state, OpenedAt: opened,
				AckDueAt: opened.Add(d.Ack[x.sev]), ResolveDueAt: opened.Add(d.Resolve),
			}
			if x.ackMin >= 0 {
				at := opened.Add(time.Duration(x.ackMin) * time.Minute)
				task.AckedAt = &at
			}
			if x.closeMin >= 0 {
				at := opened.Add(time.Duration(x.closeMin) * time.Minute)
				task.ClosedAt = &at
			}
			if err := tx.InsertTask(ctx, task); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TestSLA checks the report's numbers against a fixture worked out by hand.
func TestSLA(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	// hhMain is in g1, hhNoWorker in g2. Now is t0 + 80 h.
	const (
		h = time.Hour
		m = time.Minute
	)
	insertSLATasks(t, e, []slaTask{
		// g1 critical (ack due 5 min, resolve due 72 h = 4320 min):
		{hhMain, rules.Critical, 0, 1, 30, tasks.Resolved},         // ack 60 s, resolve 1800 s
		{hhMain, rules.Critical, 1 * h, 2, 60, tasks.Resolved},     // ack 120 s, resolve 3600 s
		{hhMain, rules.Critical, 2 * h, 3, 4400, tasks.Resolved},   // ack 180 s, resolve 264000 s: late
		{hhMain, rules.Critical, 3 * h, 10, -1, tasks.OnSite},      // ack 600 s: late; open past 72 h at now: late
		{hhMain, rules.Critical, 4 * h, 4, -1, tasks.Acknowledged}, // ack 240 s; open, past 72 h: late
		{hhMain, rules.Critical, 79 * h, -1, -1, tasks.Open},       // 60 min waiting: ack late
		{hhMain, rules.Critical, 79*h + 58*m, -1, -1, tasks.Open},  // 2 min waiting: not yet late
		{hhMain, rules.Critical, 5 * h, -1, 3, tasks.Cancelled},    // cancelled before its ack deadline
		{hhMain, rules.Critical, 6 * h, -1, 20, tasks.Cancelled},   // left 20 min unacknowledged: ack late
		{hhMain, rules.Critical, 9 * h, 5, -1, tasks.Acknowledged}, // ack 300 s, at the deadline: on time; resolve due at 81 h
		// g1 high (ack due 30 min):
		{hhMain, rules.High, 10 * h, 45, 90, tasks.Resolved}, // ack 2700 s: late; resolve 5400 s
		// g2 critical:
		{hhNoWorker, rules.Critical, 10 * h, 6, 120, tasks.Resolved}, // ack 360 s: late; resolve 7200 s
		// Outside the default 30 days before now: not counted.
		{hhMain, rules.Critical, -40 * 24 * h, 1, 2, tasks.Resolved},
	})
	e.clk.Advance(t0.Add(80 * h))

	got, err := e.svc.SLA(ctx, tasks.SLAQuery{})
	must(t, err)
	// g1 critical ack samples (s): 60 120 180 240 300 600 → p50 rank 3 = 180, p90 rank 6 = 600.
	// Resolve samples: 1800 3600 264000 → p50 rank 2 = 3600, p90 rank 3 = 264000.
	want := `[
		{"grid_id":"g1","severity":"critical","count":10,"ack_p50_s":180,"ack_p90_s":600,"resolve_p50_s":3600,"resolve_p90_s":264000,"ack_overdue":3,"resolve_overdue":3,"rating_avg":null,"ratings":0},
		{"grid_id":"g1","severity":"high","count":1,"ack_p50_s":2700,"ack_p90_s":2700,"resolve_p50_s":5400,"resolve_p90_s":5400,"ack_overdue":1,"resolve_overdue":0,"rating_avg":null,"ratings":0},
		{"grid_id":"g2","severity":"critical","count":1,"ack_p50_s":360,"ack_p90_s":360,"resolve_p50_s":7200,"resolve_p90_s":7200,"ack_overdue":1,"resolve_overdue":0,"rating_avg":null,"ratings":0}
	]`
	jsonEq(t, got, want)

	for _, tc := range []struct {
		name string
		q    tasks.SLAQuery
		want string
	}{
		{"OneGrid", tasks.SLAQuery{GridID: gridNoStaf},
			`[{"grid_id":"g2","severity":"critical","count":1,"ack_p50_s":360,"ack_p90_s":360,"resolve_p50_s":7200,"resolve_p90_s":7200,"ack_overdue":1,"resolve_overdue":0,"rating_avg":null,"ratings":0}]`},
		{"UnknownGrid", tasks.SLAQuery{GridID: "g404"}, `[]`},
		// [from, to): the task opened at to is left out.
		{"Window", tasks.SLAQuery{From: t0.Add(79 * h), To: t0.Add(79*h + 58*m)},
			`[{"grid_id":"g1","severity":"critical","count":1,"ack_p50_s":null,"ack_p90_s":null,"resolve_p50_s":null,"resolve_p90_s":null,"ack_overdue":1,"resolve_overdue":0,"rating_avg":null,"ratings":0}]`},
		{"LongAgo", tasks.SLAQuery{From: t0.Add(-41 * 24 * h), To: t0.Add(-39 * 24 * h)},
			`[{"grid_id":"g1","severity":"critical","count":1,"ack_p50_s":60,"ack_p90_s":60,"resolve_p50_s":120,"resolve_p90_s":120,"ack_overdue":0,"resolve_overdue":0,"rating_avg":null,"ratings":0}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.SLA(ctx, tc.q)
			must(t, err)
			jsonEq(t, got, tc.want)
		})
	}

	_, err = e.svc.SLA(ctx, tasks.SLAQuery{From: t0, To: t0})
	wantError(t, err, "invalid")
}

// TestSLA_Percentiles: nearest rank over ten samples of 1..10 minutes.
func TestSLA_Percentiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	var list []slaTask
	for i := range 10 {
		list = append(list, slaTask{hhMain, rules.Low, time.Duration(i) * time.Hour, i + 1, 100, tasks.Resolved})
	}
	insertSLATasks(t, e, list)
	e.clk.Advance(t0.Add(24 * time.Hour))
	got, err := e.svc.SLA(context.Background(), tasks.SLAQuery{})
	must(t, err)
	// p50: rank ⌈5⌉ = 5 → 300 s; p90: rank ⌈9⌉ = 9 → 540 s. Resolve: all 6000 s.
	jsonEq(t, got, `[{"grid_id":"g1","severity":"low","count":10,"ack_p50_s":300,"ack_p90_s":540,"resolve_p50_s":6000,"resolve_p90_s":6000,"ack_overdue":0,"resolve_overdue":0,"rating_avg":null,"ratings":0}]`)
}

// jsonEq compares v, encoded as JSON, with want.
func jsonEq(t *testing.T, v any, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	must(t, err)
	var g, w any
	must(t, json.Unmarshal(got, &g))
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

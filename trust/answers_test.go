package trust

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestAnswerer: how the simulated resident and family answer a check, as
// the truth has them, the same for one seed.
func TestAnswerer(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	truth := []simulator.Truth{{HouseholdID: "h-fallen", Kind: simulator.TruthFallUnreported, Visit: true, Start: t0.Add(-5 * time.Hour), End: t0.Add(5 * time.Hour)}}
	lives := []simulator.Life{
		{HouseholdID: "h-family", Kind: simulator.LifeWithFamily, Start: t0.Add(-24 * time.Hour), End: t0.Add(30 * time.Hour)},
		{HouseholdID: "h-out", Kind: simulator.LifeOut, Start: t0.Add(-2 * time.Hour), End: t0.Add(6 * time.Hour)},
		{HouseholdID: "h-bandoff", Kind: simulator.LifeBandOff, Start: t0.Add(-3 * time.Hour), End: t0.Add(12 * time.Hour)},
	}
	a := newAnswerer(1, truth, lives)
	until := t0.Add(20 * time.Minute)
	cases := []struct {
		household string
		// who may answer: "" nobody for sure; else the role and answer
		// when someone does.
		role, answer string
		always       bool
	}{
		{"h-home", tasks.ByResident, tasks.AnswerOK, true},
		{"h-family", tasks.ByFamily, tasks.AnswerWithMe, true},
		{"h-out", tasks.ByFamily, tasks.AnswerOK, false},
		{"h-bandoff", tasks.ByFamily, tasks.AnswerOK, false},
		{"h-fallen", tasks.ByFamily, tasks.AnswerCannotReach, false},
	}
	for _, tc := range cases {
		t.Run(tc.household, func(t *testing.T) {
			answered := 0
			for i := range 200 {
				task := Task{ID: "t", HouseholdID: tc.household, Rule: "water_no_use", Kind: "visit", Raised: t0.Add(time.Duration(i) * time.Second)}
				at, req, ok := a.answer(task, until.Add(time.Duration(i)*time.Second))
				at2, req2, ok2 := a.answer(task, until.Add(time.Duration(i)*time.Second))
				if at != at2 || req != req2 || ok != ok2 {
					t.Fatalf("two draws differ: %v %+v %v, %v %+v %v", at, req, ok, at2, req2, ok2)
				}
				if !ok {
					continue
				}
				answered++
				if req.Role != tc.role || req.Answer != tc.answer || !at.After(task.Raised) || !at.Before(until.Add(time.Duration(i)*time.Second)) {
					t.Fatalf("answer %+v at %v, want %s's %s within the window", req, at, tc.role, tc.answer)
				}
				if tc.household == "h-family" && !req.Until.Equal(t0.Add(30*time.Hour)) {
					t.Errorf("with_me until %v, want the end of the stay", req.Until)
				}
			}
			if tc.always && answered != 200 || !tc.always && (answered == 0 || answered == 200) {
				t.Errorf("answered %d of 200", answered)
			}
		})
	}
}

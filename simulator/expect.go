package simulator

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Verdict is one expectation checked against the monitor's tasks.
type Verdict struct {
	Household, Rule string
	// From and Until bound when the task had to open; zero when the anchor
	// never happened.
	From, Until time.Time
	// Why is the bound in words: "12h30m after last_water_use".
	Why string
	// Task is the task that met it, or one that opened outside the bound.
	Task *Task
	// Problem says what was wrong; empty when met.
	Problem string
}

// Report is the outcome of checking a run's expectations.
type Report struct {
	Met, Missed []Verdict
	// Unexpected are the tasks of the scenario's households that no
	// expectation names: false alarms when the scenario says no_other_tasks.
	Unexpected []Task
	// Strict is the scenario's no_other_tasks.
	Strict bool
	loc    *time.Location
}

// OK reports whether every expectation was met and, if the scenario is
// strict, no other task opened.
func (r Report) OK() bool { return len(r.Missed) == 0 && (!r.Strict || len(r.Unexpected) == 0) }

// Check compares the tasks the monitor opened with the scenario's
// expectations. anchors are the world's (World.Anchors); the tasks' household
// ids carry idPrefix, and tasks of households outside the scenario are
// ignored.
func Check(sc *Scenario, anchors map[string]Anchors, idPrefix string, tasks []Task) Report {
	r := Report{Strict: sc.NoOtherTasks, loc: sc.Location}
	byKey := map[[2]string][]Task{}
	for _, t := range tasks {
		id, ok := strings.CutPrefix(t.HouseholdID, idPrefix)
		if !ok || !sc.hasHousehold(id) {
			continue
		}
		key := [2]string{id, t.Rule}
		byKey[key] = append(byKey[key], t)
	}
	incidentAt := map[string]time.Time{}
	for _, in := range sc.Incidents {
		if in.ID != "" {
			incidentAt[in.ID] = in.At.At(sc.Start, sc.Location)
		}
	}
	named := map[[2]string]bool{}
	for _, x := range sc.Expect {
		key := [2]string{x.Household, x.Rule}
		named[key] = true
		o := Verdict{Household: x.Household, Rule: x.Rule}
		from, what := x.anchorTime(sc, anchors[x.Household], incidentAt)
		o.Why = FormatDuration(x.Within) + " after " + what
		if from.IsZero() {
			o.Problem = fmt.Sprintf("%s never happened in the run, so no bound can be set", what)
			r.Missed = append(r.Missed, o)
			continue
		}
		o.From, o.Until = from, from.Add(x.Within)
		candidates := byKey[key]
		slices.SortFunc(candidates, func(a, b Task) int { return a.OpenedAt.Compare(b.OpenedAt) })
		for i, t := range candidates {
			if !t.OpenedAt.Before(o.From) && !t.OpenedAt.After(o.Until) {
				o.Task = &candidates[i]
				break
			}
		}
		switch {
		case o.Task != nil:
			r.Met = append(r.Met, o)
			continue
		case len(candidates) == 0:
			o.Problem = "no task opened"
		default:
			o.Task = &candidates[0]
			o.Problem = fmt.Sprintf("task %s opened at %s, outside the bound", o.Task.ID, r.clock(o.Task.OpenedAt))
		}
		r.Missed = append(r.Missed, o)
	}
	for key, ts := range byKey {
		if !named[key] {
			r.Unexpected = append(r.Unexpected, ts...)
		}
	}
	slices.SortFunc(r.Unexpected, func(a, b Task) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.HouseholdID+a.Rule, b.HouseholdID+b.Rule)
	})
	return r
}

// anchorTime is when the expectation's window starts, and its name.
func (x Expectation) anchorTime(sc *Scenario, a Anchors, incidentAt map[string]time.Time) (time.Time, string) {
	switch x.after.kind {
	case AfterStart:
		return sc.Start, "the start"
	case AfterIncident:
		if x.after.incident != "" {
			return incidentAt[x.after.incident], "incident " + x.after.incident
		}
		if len(a.Incidents) == 0 {
			return time.Time{}, "the household's incident"
		}
		return a.Incidents[0], "the incident"
	case AfterLastWaterUse:
		return a.WaterRise, "the last water use"
	case AfterLastMotion:
		return a.Motion, "the last motion"
	case AfterLastDoorOpen:
		return a.DoorOpen, "the door's last opening"
	case AfterLastMessage:
		return a.Message[x.Device], "the last message of " + x.Device
	default:
		return x.after.when.At(sc.Start, sc.Location), x.after.when.String()
	}
}

func (r Report) clock(t time.Time) string {
	if r.loc != nil {
		t = t.In(r.loc)
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// Write prints the report: one line per expectation and per unexpected task.
func (r Report) Write(w io.Writer) {
	for _, o := range r.Met {
		fmt.Fprintf(w, "ok         %s %s: opened at %s (within %s)\n", o.Household, o.Rule, r.clock(o.Task.OpenedAt), o.Why)
	}
	for _, o := range r.Missed {
		bound := ""
		if !o.From.IsZero() {
			bound = fmt.Sprintf("; wanted between %s and %s (%s)", r.clock(o.From), r.clock(o.Until), o.Why)
		}
		fmt.Fprintf(w, "MISSED     %s %s: %s%s\n", o.Household, o.Rule, o.Problem, bound)
	}
	label := "UNEXPECTED"
	if !r.Strict {
		label = "also      "
	}
	for _, t := range r.Unexpected {
		fmt.Fprintf(w, "%s %s %s: task %s (%s) opened at %s\n", label, t.HouseholdID, t.Rule, t.ID, t.Severity, r.clock(t.OpenedAt))
	}
	fmt.Fprintf(w, "%d expected task(s) opened in time, %d missed, %d unexpected\n", len(r.Met), len(r.Missed), len(r.Unexpected))
}

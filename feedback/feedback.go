// Package feedback turns what workers say of false alarms into suggestions an
// operator may approve (CONTRACT.md §12, outcome feedback): a household whose
// resident repeatedly sleeps late gets a later late_wake, one whose sensor
// misfires gets it checked. It is pure: the store keeps false alarms and
// suggestions, the API applies an approved one as a household override.
package feedback

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// Reasons a false alarm may be resolved with.
const (
	WasOut      = "was_out"
	SleptLate   = "slept_late"
	Visitor     = "visitor"
	SensorFault = "sensor_fault"
	Other       = "other"
)

// Reasons lists them, as the API spells them.
var Reasons = []string{WasOut, SleptLate, Visitor, SensorFault, Other}

// CheckDevice is the param of a suggestion to have the household's sensor
// of the rule checked: approving it changes no threshold.
const CheckDevice = "check_device"

// Window is how far back false alarms count, and Repeats how many of one
// rule with one routine reason (was_out, slept_late) make a suggestion: one
// false alarm is chance, two in a month are the household's habit.
const (
	Window  = 30 * 24 * time.Hour
	Repeats = 2
)

// FalseAlarm is a task resolved false_alarm with a reason.
type FalseAlarm struct {
	TaskID      string    `json:"task_id"`
	HouseholdID string    `json:"household_id"`
	Rule        string    `json:"rule"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
}

// Suggestion is a change to one household's threshold (or a device check)
// that an operator may approve.
type Suggestion struct {
	ID          string    `json:"id"`
	HouseholdID string    `json:"household_id"`
	Rule        string    `json:"rule"`
	Param       string    `json:"param"`
	From        any       `json:"from"`
	To          any       `json:"to"`
	Because     string    `json:"because"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// Statuses of a suggestion.
const (
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
)

// tuned is the parameter a routine reason raises, per welfare rule.
var tuned = map[string]string{
	rules.RuleWaterNoUse:   "hours",
	rules.RuleNoMotion:     "hours",
	rules.RuleNoExit:       "hours",
	rules.RulePowerNoUse:   "hours",
	rules.RuleUnusualQuiet: "factor",
	rules.RuleLateWake:     "margin",
}

// Suggest says what a false alarm suggests, given how many false alarms of
// its household, rule and reason Window holds (itself included) and the
// thresholds in force for the household. No suggestion for a visitor or
// "other" (nothing to learn from), for an alarm (a fall or SOS threshold is
// never raised on a worker's word; a misfiring wristband is checked), or
// when the threshold is at its maximum already.
func Suggest(fa FalseAlarm, recent int, current rules.Thresholds) (Suggestion, bool) {
	rule, ok := rules.Lookup(fa.Rule)
	if !ok || fa.Rule == rules.RuleManual {
		return Suggestion{}, false
	}
	s := Suggestion{HouseholdID: fa.HouseholdID, Rule: fa.Rule, Status: Pending, CreatedAt: fa.At}
	switch fa.Reason {
	case SensorFault:
		s.Param = CheckDevice
		s.Because = fmt.Sprintf("a %s false alarm was blamed on a sensor: have the household's %s sensors checked", fa.Rule, rule.Signal)
		if rule.Signal == rules.SignalNone {
			s.Because = fmt.Sprintf("a %s false alarm was blamed on a sensor: have the household's sensors checked", fa.Rule)
		}
		return s, true
	case WasOut, SleptLate:
	default:
		return Suggestion{}, false
	}
	param, ok := tuned[fa.Rule]
	if rule.Class != rules.ClassWelfare || !ok || recent < Repeats {
		return Suggestion{}, false
	}
	i := slices.IndexFunc(rule.Params, func(p rules.Param) bool { return p.Name == param })
	from, ok := current[fa.Rule][param].(float64)
	if i < 0 || !ok {
		return Suggestion{}, false
	}
	p := rule.Params[i]
	to := raise(p, from)
	if to <= from {
		return Suggestion{}, false
	}
	s.Param, s.From, s.To = param, from, to
	s.Because = fmt.Sprintf("%d false alarms of %s in %d days resolved %s: raise %s from %g to %g %s",
		recent, fa.Rule, int(Window.Hours()/24), fa.Reason, p.Key(), from, to, p.Unit)
	return s, true
}

// raise is the next value of p above from, within its maximum: a quarter
// more (at least an hour) for hours, half a step for a factor, an hour for
// minutes.
func raise(p rules.Param, from float64) float64 {
	var to float64
	switch p.Unit {
	case rules.UnitHours:
		to = math.Ceil(max(from*1.25, from+1)*2) / 2
	case rules.UnitFactor:
		to = from + 0.5
	case rules.UnitMinutes:
		to = from + 60
	default:
		return from
	}
	return min(to, p.Max)
}

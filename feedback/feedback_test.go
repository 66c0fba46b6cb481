package feedback

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

func TestSuggest(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	defaults := rules.DefaultConfig().Thresholds()
	high, err := rules.DefaultConfig().With(rules.Thresholds{"no_motion": {"hours": 23.5}, "late_wake": {"margin": 330}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		rule     string
		reason   string
		recent   int
		current  rules.Thresholds
		param    string
		from, to any
	}{
		{"slept late once is chance", rules.RuleNoMotion, SleptLate, 1, defaults, "", nil, nil},
		{"slept late twice: no_motion's hours up a quarter", rules.RuleNoMotion, SleptLate, 2, defaults, "hours", 6.0, 7.5},
		{"late_wake's margin up an hour", rules.RuleLateWake, SleptLate, 3, defaults, "margin", 90.0, 150.0},
		{"unusual_quiet's factor up a half", rules.RuleUnusualQuiet, WasOut, 2, defaults, "factor", 1.5, 2.0},
		{"water_no_use at least an hour, in half hours", rules.RuleWaterNoUse, WasOut, 2, defaults, "hours", 12.0, 15.0},
		{"no_exit", rules.RuleNoExit, WasOut, 2, defaults, "hours", 72.0, 90.0},
		{"within the maximum", rules.RuleNoMotion, SleptLate, 2, high.Thresholds(), "hours", 23.5, 24.0},
		{"and none at it", rules.RuleLateWake, SleptLate, 2, func() rules.Thresholds {
			c, _ := high.With(rules.Thresholds{"late_wake": {"margin": 360}})
			return c.Thresholds()
		}(), "", nil, nil},
		{"a sensor fault: check the device at once", rules.RuleNoMotion, SensorFault, 1, defaults, CheckDevice, nil, nil},
		{"a false fall: check the wristband", rules.RuleFall, SensorFault, 1, defaults, CheckDevice, nil, nil},
		{"an alarm's threshold is never raised", rules.RuleWaterContinuousFlow, WasOut, 5, defaults, "", nil, nil},
		{"nor a maintenance rule's", rules.RuleDeviceOffline, WasOut, 5, defaults, "", nil, nil},
		{"a visitor teaches nothing", rules.RuleNoMotion, Visitor, 5, defaults, "", nil, nil},
		{"nor other", rules.RuleNoMotion, Other, 5, defaults, "", nil, nil},
		{"nor a manual task", rules.RuleManual, SensorFault, 5, defaults, "", nil, nil},
		{"nor an unknown rule", "toaster", SensorFault, 5, defaults, "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := Suggest(FalseAlarm{TaskID: "t1", HouseholdID: "h1", Rule: tc.rule, Reason: tc.reason, At: at}, tc.recent, tc.current)
			if ok != (tc.param != "") {
				t.Fatalf("suggested %v (%+v), want %q", ok, s, tc.param)
			}
			if !ok {
				return
			}
			if s.Param != tc.param || s.From != tc.from || s.To != tc.to || s.HouseholdID != "h1" || s.Rule != tc.rule || s.Status != Pending || s.Because == "" || !s.CreatedAt.Equal(at) {
				t.Errorf("suggestion %+v, want %s %v → %v", s, tc.param, tc.from, tc.to)
			}
		})
	}
}

package rules

import (
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Class says how a rule's task is dispatched (CONTRACT.md §12).
type Class string

const (
	// ClassAlarm is dispatched at once.
	ClassAlarm Class = "alarm"
	// ClassWelfare is an absence of something a person does: verified first
	// unless corroborated, and never opened while the household is away.
	ClassWelfare Class = "welfare"
	// ClassMaintenance is the equipment's upkeep, not the resident.
	ClassMaintenance Class = "maintenance"
	// ClassRoutine is scheduled work, not an alert: nothing to verify or
	// dispatch at once, and no false alarm.
	ClassRoutine Class = "routine"
)

// SignalNone is the signal of a rule whose task tells nothing the home's
// devices say about the resident's life (device upkeep, a report made by
// phone): privacy settings never withhold it. It is deliberately not one of
// registry.Signals, so that a rule left without a signal is told apart from
// one that reveals none.
const SignalNone = "none"

// Rule is everything known about one rule: what its tasks are, how they are
// dispatched, what they reveal and how it is tuned.
type Rule struct {
	Name string
	// Severity is that of every task the rule opens; empty for manual, whose
	// severity the person who opens the task chooses.
	Severity Severity
	Kind     TaskKind
	Class    Class
	// Signal is the privacy signal (registry.Signals) whoever is told of a
	// task of this rule learns about, or SignalNone.
	Signal string
	// Params are its thresholds, in the order the config file lists them.
	Params []Param
}

// Table lists every rule a task may carry, in the contract's order. The
// engine's alerts, the config file and its validation, household overrides
// and who is told of a task all read it.
var Table = withRuleNames([]Rule{
	{Name: RuleFall, Severity: Critical, Kind: Visit, Class: ClassAlarm, Signal: registry.SignalHealth},
	{Name: RuleSOS, Severity: Critical, Kind: Visit, Class: ClassAlarm, Signal: registry.SignalHealth},
	{Name: RuleWaterNoUse, Severity: High, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalWater, Params: []Param{
		hoursParam("hours", 12, 1, 168, "the water meter keeps reporting but its register has not risen for this long",
			func(c *Config) *time.Duration { return &c.WaterNoUse }),
	}},
	{Name: RuleWaterContinuousFlow, Severity: High, Kind: Visit, Class: ClassAlarm, Signal: registry.SignalWater, Params: []Param{
		hoursParam("hours", 2, 0.25, 48, "water has flowed without a pause for this long",
			func(c *Config) *time.Duration { return &c.WaterContinuousFlow }),
	}},
	{Name: RuleNoMotion, Severity: High, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalMotion, Params: []Param{
		hoursParam("hours", 6, 0.5, 24, "no motion anywhere in the home for this long, counted only inside the waking window",
			func(c *Config) *time.Duration { return &c.NoMotion }),
		{Name: "window", Unit: UnitWindow, Default: "07:00-22:00", Doc: "the waking window in the household's local time; may cross midnight",
			win: func(c *Config) *Window { return &c.NoMotionWindow }},
	}},
	{Name: RuleNoExit, Severity: Medium, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalDoor, Params: []Param{
		hoursParam("hours", 72, 12, 720, "the entrance door has not opened for this long",
			func(c *Config) *time.Duration { return &c.NoExit }),
	}},
	{Name: RulePowerNoUse, Severity: Medium, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalPower, Params: []Param{
		hoursParam("hours", 24, 1, 168, "the window over which power use must reach the floor",
			func(c *Config) *time.Duration { return &c.PowerNoUse }),
		{Name: "floor_kwh", Unit: UnitKWh, Default: 1.2, Min: 0.01, Max: 100, Doc: "less than this used over the whole window fires",
			num: func(c *Config) *float64 { return &c.PowerNoUseFloorKWh }},
	}},
	// Learned baselines (baseline.go): silent until a household has 14 days
	// of motion to compare with.
	{Name: RuleUnusualQuiet, Severity: High, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalMotion, Params: []Param{
		{Name: "factor", Unit: UnitFactor, Default: 1.5, Min: 1.1, Max: 10, Doc: "fires when the quiet exceeds the household's usual longest quiet span for that hour of the week times this",
			num: func(c *Config) *float64 { return &c.UnusualQuietFactor }},
		hoursParam("min_hours", 2, 0.5, 24, "never fires on a quiet shorter than this",
			func(c *Config) *time.Duration { return &c.UnusualQuietMin }),
	}},
	{Name: RuleLateWake, Severity: High, Kind: Visit, Class: ClassWelfare, Signal: registry.SignalMotion, Params: []Param{
		minutesParam("margin", 90, 15, 360, "fires when no motion is seen by the household's usual first activity of that weekday plus this",
			func(c *Config) *time.Duration { return &c.LateWakeMargin }),
	}},
	{Name: RuleDeviceOffline, Severity: Low, Kind: Maintenance, Class: ClassMaintenance, Signal: SignalNone, Params: []Param{
		hoursParam("hours", 6, 0.25, 168, "a device silent this long is offline",
			func(c *Config) *time.Duration { return &c.DeviceOffline }),
		hoursParam("wristband_hours", 2, 0.25, 168, "a wristband silent this long is offline",
			func(c *Config) *time.Duration { return &c.WristbandOffline }),
	}},
	{Name: RuleBatteryLow, Severity: Low, Kind: Maintenance, Class: ClassMaintenance, Signal: SignalNone, Params: []Param{
		{Name: "pct", Unit: UnitPercent, Default: 15.0, Min: 1, Max: 90, Doc: "a battery below this is low",
			num: func(c *Config) *float64 { return &c.BatteryLowPct }},
	}},
	// Every welfare signal of the home is stale (health.go): nobody's
	// welfare is watched until a sensor is fixed.
	{Name: RuleUnmonitored, Severity: High, Kind: Maintenance, Class: ClassMaintenance, Signal: SignalNone},
	// A person asked for the visit (a resident phoned in): there is nothing
	// to verify, so it is dispatched at once like an alarm. What it says is
	// the reason someone typed, not what a device saw.
	{Name: RuleManual, Kind: Visit, Class: ClassAlarm, Signal: SignalNone},
	// The month's routine visits (CONTRACT.md §13), scheduled by tasks.
	{Name: RuleRoutineVisit, Severity: Low, Kind: RoutineVisit, Class: ClassRoutine, Signal: SignalNone},
})

// withRuleNames sets each parameter's Rule, so that the table says it once.
func withRuleNames(table []Rule) []Rule {
	for i := range table {
		for j := range table[i].Params {
			table[i].Params[j].Rule = table[i].Name
		}
	}
	return table
}

// Lookup finds a rule of Table by name.
func Lookup(name string) (Rule, bool) {
	r, ok := byName[name]
	return r, ok
}

var byName = func() map[string]Rule {
	m := make(map[string]Rule, len(Table))
	for _, r := range Table {
		m[r.Name] = r
	}
	return m
}()

// Names lists every rule a task may carry, in Table's order.
var Names = func() []string {
	names := make([]string, len(Table))
	for i, r := range Table {
		names[i] = r.Name
	}
	return names
}()

// Params lists every threshold parameter, rule by rule in Table's order.
var Params = func() []Param {
	var params []Param
	for _, r := range Table {
		params = append(params, r.Params...)
	}
	return params
}()

// defaults is the configuration the table's defaults make.
var defaults = func() Config {
	var c Config
	for _, p := range Params {
		if err := p.set(&c, p.Default); err != nil {
			panic(fmt.Sprintf("rules: default of %s: %v", p.Key(), err)) // a typo in Table, caught by any test
		}
	}
	return c
}()

package rules

import "time"

// Severity orders how urgently a person must act.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Severities lists every severity, most urgent first.
var Severities = []Severity{Critical, High, Medium, Low}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	for _, known := range Severities {
		if s == known {
			return true
		}
	}
	return false
}

// TaskKind says who is needed: a visit to the resident or maintenance of a device.
type TaskKind string

const (
	Visit       TaskKind = "visit"
	Maintenance TaskKind = "maintenance"
	// RoutineVisit is a scheduled call on a resident, due by a date rather
	// than opened by an alert (CONTRACT.md §13).
	RoutineVisit TaskKind = "routine_visit"
)

// Rule names, as in the contract and the config file. Table describes each.
const (
	RuleFall                = "fall"
	RuleSOS                 = "sos"
	RuleWaterNoUse          = "water_no_use"
	RuleWaterContinuousFlow = "water_continuous_flow"
	RuleNoMotion            = "no_motion"
	RuleNoExit              = "no_exit"
	RulePowerNoUse          = "power_no_use"
	RuleDeviceOffline       = "device_offline"
	RuleBatteryLow          = "battery_low"
	RuleUnusualQuiet        = "unusual_quiet"
	RuleLateWake            = "late_wake"
	RuleUnmonitored         = "unmonitored"
	// RuleManual is a task opened by a person, not by a rule.
	RuleManual = "manual"
	// RuleRoutineVisit is a routine visit, scheduled every month.
	RuleRoutineVisit = "routine_visit"
)

// Evidence is what a rule saw: a reading or a fact with its event time.
type Evidence struct {
	At       time.Time      `json:"at"`
	DeviceID string         `json:"device_id,omitempty"`
	Summary  string         `json:"summary"`
	Values   map[string]any `json:"values,omitempty"`
}

// Alert is the engine's output: a rule fired for a household, or its condition cleared.
type Alert struct {
	HouseholdID string
	Rule        string
	Severity    Severity
	Kind        TaskKind
	// At is the event time at which the rule fired or cleared.
	At       time.Time
	Cleared  bool
	Evidence Evidence
	// Signals are the kinds of signal (registry.Signals) that agree on a
	// welfare alert over the same span: its own, and any that corroborate
	// it (corroborate.go). Empty for other alerts.
	Signals []string
}

// Corroborated reports whether a second, independent kind of signal agrees
// with a welfare alert: its task is dispatched at once, not verified first.
func (a Alert) Corroborated() bool { return len(a.Signals) > 1 }

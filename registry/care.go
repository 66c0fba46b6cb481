package registry

import "fmt"

// CareLevel grades how much attention a resident needs (CONTRACT.md §13):
// it picks a thresholds profile and how many routine visits a month they get.
type CareLevel string

const (
	// CareSelfCare (自理) lives on their own without help; the default.
	CareSelfCare CareLevel = "self_care"
	// CareSemi (半自理) needs help with some daily tasks.
	CareSemi CareLevel = "semi"
	// CareDependent (失能) depends on others for daily life.
	CareDependent CareLevel = "dependent"
)

// RuleFields are what of a household, apart from its threshold overrides
// and away periods, its rules run by.
type RuleFields struct {
	// Timezone is the household's own; empty: the monitor's.
	Timezone  string
	CareLevel CareLevel
}

// CareLevels lists every care level, least care first.
var CareLevels = []CareLevel{CareSelfCare, CareSemi, CareDependent}

// Valid reports whether l is a known care level; empty is not (see OrDefault).
func (l CareLevel) Valid() bool {
	for _, known := range CareLevels {
		if l == known {
			return true
		}
	}
	return false
}

// OrDefault is l, or self_care when l is empty: a household registered
// without a level.
func (l CareLevel) OrDefault() CareLevel {
	if l == "" {
		return CareSelfCare
	}
	return l
}

// ParseCareLevel reads a care level as the API and CSV spell it; empty is self_care.
func ParseCareLevel(s string) (CareLevel, error) {
	l := CareLevel(s).OrDefault()
	if !l.Valid() {
		return "", fmt.Errorf("care_level %s: must be one of self_care, semi, dependent", quote(s))
	}
	return l, nil
}

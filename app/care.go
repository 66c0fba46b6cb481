package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// CareLevelsConfig is the attention each care level gets (CONTRACT.md §13),
// under care_levels.<level>.
type CareLevelsConfig struct {
	SelfCare  CareLevelConfig `mapstructure:"self_care"`
	Semi      CareLevelConfig `mapstructure:"semi"`
	Dependent CareLevelConfig `mapstructure:"dependent"`
}

// CareLevelConfig is one care level's profile.
type CareLevelConfig struct {
	// Rules replace the global thresholds (rules.<rule>.<param>) for the
	// level's households; a household's own overrides replace these. Read
	// from the file only: a map has no fixed environment variable names.
	Rules map[string]map[string]any `mapstructure:"rules"`
	// VerifyWindow is how long a welfare alert of the level's households is
	// verified before a worker is sent; zero: tasks.verify_window.
	VerifyWindow time.Duration `mapstructure:"verify_window"`
	// RoutineVisitsPerMonth is how many routine visits a household of the
	// level gets a month; 0 schedules none.
	RoutineVisitsPerMonth int `mapstructure:"routine_visits_per_month"`
}

// maxRoutineVisits bounds routine_visits_per_month: one a day.
const maxRoutineVisits = 31

func defaultCareLevels() CareLevelsConfig {
	d := tasks.DefaultRoutineVisits()
	return CareLevelsConfig{
		SelfCare:  CareLevelConfig{RoutineVisitsPerMonth: d[registry.CareSelfCare]},
		Semi:      CareLevelConfig{RoutineVisitsPerMonth: d[registry.CareSemi]},
		Dependent: CareLevelConfig{RoutineVisitsPerMonth: d[registry.CareDependent]},
	}
}

// level is the profile of a care level; empty is self_care.
func (c CareLevelsConfig) level(l registry.CareLevel) CareLevelConfig {
	switch l.OrDefault() {
	case registry.CareSemi:
		return c.Semi
	case registry.CareDependent:
		return c.Dependent
	}
	return c.SelfCare
}

// VerifyWindow is how long a welfare alert of a household of care level l
// is verified before a worker is sent.
func (c Config) VerifyWindow(l registry.CareLevel) time.Duration {
	if w := c.CareLevels.level(l).VerifyWindow; w > 0 {
		return w
	}
	return c.Tasks.VerifyWindow
}

// CareLevelThresholds is each care level's thresholds profile, as the
// decision step takes it.
func (c Config) CareLevelThresholds() map[registry.CareLevel]rules.Thresholds {
	out := make(map[registry.CareLevel]rules.Thresholds, len(registry.CareLevels))
	for _, l := range registry.CareLevels {
		if t := c.CareLevels.level(l).Rules; len(t) > 0 {
			out[l] = rules.Thresholds(t)
		}
	}
	return out
}

// RoutineVisits is how many routine visits a month each care level gets.
func (c Config) RoutineVisits() map[registry.CareLevel]int {
	out := make(map[registry.CareLevel]int, len(registry.CareLevels))
	for _, l := range registry.CareLevels {
		out[l] = c.CareLevels.level(l).RoutineVisitsPerMonth
	}
	return out
}

// validate names every wrong setting of every level, under its full key.
func (c CareLevelsConfig) validate() []error {
	var errs []error
	for _, l := range registry.CareLevels {
		key := "care_levels." + string(l)
		lc := c.level(l)
		if len(lc.Rules) > 0 {
			if _, err := rules.DefaultConfig().With(rules.Thresholds(lc.Rules)); err != nil {
				errs = append(errs, underKey(key+".rules.", err))
			}
		}
		if lc.VerifyWindow < 0 || lc.VerifyWindow > tasks.MaxVerifyWindow {
			errs = append(errs, fmt.Errorf("%s.verify_window: %s: want 0 (tasks.verify_window) to %s", key, lc.VerifyWindow, tasks.MaxVerifyWindow))
		}
		if lc.RoutineVisitsPerMonth < 0 || lc.RoutineVisitsPerMonth > maxRoutineVisits {
			errs = append(errs, fmt.Errorf("%s.routine_visits_per_month: %d: want 0 to %d", key, lc.RoutineVisitsPerMonth, maxRoutineVisits))
		}
	}
	return []error{errors.Join(errs...)}
}

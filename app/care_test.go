package app

import (
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

func TestCareLevelsConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string // part of the error; "" valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"a profile", func(c *Config) { c.CareLevels.Semi.Rules = map[string]map[string]any{"no_motion": {"hours": 4}} }, ""},
		{"an unknown parameter", func(c *Config) { c.CareLevels.Dependent.Rules = map[string]map[string]any{"no_motion": {"hourz": 4}} },
			"care_levels.dependent.rules.no_motion.hourz: unknown parameter"},
		{"out of range", func(c *Config) { c.CareLevels.Semi.Rules = map[string]map[string]any{"no_exit": {"hours": 1}} },
			"care_levels.semi.rules.no_exit.hours: must be between 12 and 720"},
		{"an unknown rule", func(c *Config) { c.CareLevels.Semi.Rules = map[string]map[string]any{"nap": {"hours": 1}} },
			"care_levels.semi.rules.nap: unknown rule"},
		{"too many visits", func(c *Config) { c.CareLevels.SelfCare.RoutineVisitsPerMonth = 32 }, "care_levels.self_care.routine_visits_per_month: 32: want 0 to 31"},
		{"negative visits", func(c *Config) { c.CareLevels.Semi.RoutineVisitsPerMonth = -1 }, "care_levels.semi.routine_visits_per_month"},
		{"negative verify window", func(c *Config) { c.CareLevels.Semi.VerifyWindow = -time.Minute }, "care_levels.semi.verify_window"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(&cfg)
			err := cfg.Validate()
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate = %v, want %q", err, c.want)
			}
		})
	}

	cfg := DefaultConfig()
	cfg.CareLevels.Dependent.VerifyWindow = 5 * time.Minute
	cfg.CareLevels.Semi.Rules = map[string]map[string]any{"no_motion": {"hours": 4}}
	for level, want := range map[registry.CareLevel]time.Duration{"": tasks.DefaultVerifyWindow, registry.CareSemi: tasks.DefaultVerifyWindow, registry.CareDependent: 5 * time.Minute} {
		if got := cfg.VerifyWindow(level); got != want {
			t.Errorf("VerifyWindow(%q) = %s, want %s", level, got, want)
		}
	}
	if v := cfg.RoutineVisits(); v[registry.CareSelfCare] != 2 || v[registry.CareSemi] != 4 || v[registry.CareDependent] != 8 {
		t.Errorf("routine visits %v, want 2, 4, 8", v)
	}
	if p := cfg.CareLevelThresholds(); len(p) != 1 || p[registry.CareSemi]["no_motion"]["hours"] != 4 {
		t.Errorf("profiles %v, want semi's alone", p)
	}
}

package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Config holds the thresholds of every rule. The global one comes from the
// config file; a household may override any parameter (see With).
type Config struct {
	WaterNoUse          time.Duration
	WaterContinuousFlow time.Duration
	NoMotion            time.Duration
	NoMotionWindow      Window
	NoExit              time.Duration
	PowerNoUse          time.Duration
	PowerNoUseFloorKWh  float64
	DeviceOffline       time.Duration
	WristbandOffline    time.Duration
	BatteryLowPct       float64
}

// DefaultConfig holds the contract's defaults.
func DefaultConfig() Config {
	return Config{
		WaterNoUse:          12 * time.Hour,
		WaterContinuousFlow: 2 * time.Hour,
		NoMotion:            6 * time.Hour,
		NoMotionWindow:      Window{Start: 7 * 60, End: 22 * 60},
		NoExit:              72 * time.Hour,
		PowerNoUse:          24 * time.Hour,
		PowerNoUseFloorKWh:  1.2,
		DeviceOffline:       6 * time.Hour,
		WristbandOffline:    2 * time.Hour,
		BatteryLowPct:       15,
	}
}

// Units of threshold parameters.
const (
	UnitHours   = "hours"
	UnitKWh     = "kWh"
	UnitPercent = "percent"
	UnitWindow  = "HH:MM-HH:MM"
)

// Param describes one threshold: where it lives, its unit and its range. The
// table drives the config file, household overrides and their validation, so
// a parameter is added in one place.
type Param struct {
	Rule string
	Name string
	Unit string
	// Min and Max bound numeric parameters, inclusive.
	Min, Max float64
	Doc      string

	hours func(*Config) *time.Duration
	num   func(*Config) *float64
	win   func(*Config) *Window
}

// Key is the parameter's config key below `rules.`, e.g. "water_no_use.hours".
func (p Param) Key() string { return p.Rule + "." + p.Name }

func hoursParam(rule, name string, min, max float64, doc string, field func(*Config) *time.Duration) Param {
	return Param{Rule: rule, Name: name, Unit: UnitHours, Min: min, Max: max, Doc: doc, hours: field}
}

// Params lists every threshold parameter.
var Params = []Param{
	hoursParam(RuleWaterNoUse, "hours", 1, 168, "the water meter keeps reporting but its register has not risen for this long",
		func(c *Config) *time.Duration { return &c.WaterNoUse }),
	hoursParam(RuleWaterContinuousFlow, "hours", 0.25, 48, "water has flowed without a pause for this long",
		func(c *Config) *time.Duration { return &c.WaterContinuousFlow }),
	hoursParam(RuleNoMotion, "hours", 0.5, 24, "no motion anywhere in the home for this long, counted only inside the waking window",
		func(c *Config) *time.Duration { return &c.NoMotion }),
	{Rule: RuleNoMotion, Name: "window", Unit: UnitWindow, Doc: "the waking window in the household's local time; may cross midnight",
		win: func(c *Config) *Window { return &c.NoMotionWindow }},
	hoursParam(RuleNoExit, "hours", 12, 720, "the entrance door has not opened for this long",
		func(c *Config) *time.Duration { return &c.NoExit }),
	hoursParam(RulePowerNoUse, "hours", 1, 168, "the window over which power use must reach the floor",
		func(c *Config) *time.Duration { return &c.PowerNoUse }),
	{Rule: RulePowerNoUse, Name: "floor_kwh", Unit: UnitKWh, Min: 0.01, Max: 100, Doc: "less than this used over the whole window fires",
		num: func(c *Config) *float64 { return &c.PowerNoUseFloorKWh }},
	hoursParam(RuleDeviceOffline, "hours", 0.25, 168, "a device silent this long is offline",
		func(c *Config) *time.Duration { return &c.DeviceOffline }),
	hoursParam(RuleDeviceOffline, "wristband_hours", 0.25, 168, "a wristband silent this long is offline",
		func(c *Config) *time.Duration { return &c.WristbandOffline }),
	{Rule: RuleBatteryLow, Name: "pct", Unit: UnitPercent, Min: 1, Max: 90, Doc: "a battery below this is low",
		num: func(c *Config) *float64 { return &c.BatteryLowPct }},
}

// Thresholds are parameter values by rule and name, as the config file and
// the API spell them: {"water_no_use": {"hours": 10}}. Hours, kWh and percent
// are numbers; a window is a string.
type Thresholds map[string]map[string]any

// Thresholds lists every parameter of c.
func (c Config) Thresholds() Thresholds {
	out := make(Thresholds)
	for _, p := range Params {
		if out[p.Rule] == nil {
			out[p.Rule] = make(map[string]any)
		}
		out[p.Rule][p.Name] = p.get(&c)
	}
	return out
}

func (p Param) get(c *Config) any {
	switch {
	case p.hours != nil:
		return p.hours(c).Hours()
	case p.num != nil:
		return *p.num(c)
	default:
		return p.win(c).String()
	}
}

// set checks v against the parameter's unit and range and stores it in c.
func (p Param) set(c *Config, v any) error {
	if p.win != nil {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a window %s as a string, got %v", UnitWindow, v)
		}
		w, err := ParseWindow(s)
		if err != nil {
			return err
		}
		*p.win(c) = w
		return nil
	}
	f, ok := number(v)
	if !ok {
		return fmt.Errorf("must be a number of %s, got %v", p.Unit, v)
	}
	if !(f >= p.Min && f <= p.Max) { // NaN fails too
		return fmt.Errorf("must be between %g and %g %s, got %g", p.Min, p.Max, p.Unit, f)
	}
	if p.hours != nil {
		*p.hours(c) = time.Duration(f * float64(time.Hour))
	} else {
		*p.num(c) = f
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// With returns c with the given parameters replaced. Every unknown rule or
// parameter and every value of the wrong unit or out of range is named in
// the error, and then nothing is applied.
func (c Config) With(t Thresholds) (Config, error) {
	var errs []error
	for _, rule := range sortedKeys(t) {
		if !slices.ContainsFunc(Params, func(p Param) bool { return p.Rule == rule }) {
			errs = append(errs, fmt.Errorf("%s: unknown rule or a rule without thresholds", rule))
			continue
		}
		for _, name := range sortedKeys(t[rule]) {
			i := slices.IndexFunc(Params, func(p Param) bool { return p.Rule == rule && p.Name == name })
			if i < 0 {
				errs = append(errs, fmt.Errorf("%s.%s: unknown parameter (known: %s)", rule, name, strings.Join(paramNames(rule), ", ")))
				continue
			}
			if err := Params[i].set(&c, t[rule][name]); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s: %w", rule, name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

func paramNames(rule string) []string {
	var names []string
	for _, p := range Params {
		if p.Rule == rule {
			names = append(names, p.Name)
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Validate names every parameter that is out of range.
func (c Config) Validate() error {
	var errs []error
	for _, p := range Params {
		if err := p.set(&Config{}, p.get(&c)); err != nil {
			errs = append(errs, fmt.Errorf("rules.%s: %w", p.Key(), err))
		}
	}
	return errors.Join(errs...)
}

// offlineAfter is how long a device of kind may stay silent before it is offline.
func (c *Config) offlineAfter(wristband bool) int64 {
	if wristband {
		return int64(c.WristbandOffline)
	}
	return int64(c.DeviceOffline)
}

// Window is a daily span of local time in minutes after midnight. End may be
// 1440 (24:00); an End before Start crosses midnight.
type Window struct {
	Start, End int
}

// ParseWindow reads "07:00-22:00".
func ParseWindow(s string) (Window, error) {
	// Spaces around the times are allowed in a config file: "07:00 - 22:00".
	start, end, err := registry.ParseDailySpan(strings.Join(strings.Fields(s), ""), true)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	w := Window{Start: start, End: end}
	if w.length() < 60 {
		return Window{}, fmt.Errorf("window %q: must be at least an hour long", s)
	}
	return w, nil
}

func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// length is the window's span in minutes.
func (w Window) length() int {
	n := w.End - w.Start
	if n <= 0 {
		n += 1440
	}
	return n
}

// after returns the moment at which need of window time has passed since
// from, counting only time inside the window in loc. Days are walked in local
// time, so a daylight-saving change shortens or lengthens that day's window.
func (w Window) after(from time.Time, need time.Duration, loc *time.Location) time.Time {
	t := from.In(loc)
	// A window that crosses midnight may have begun the day before.
	day := time.Date(t.Year(), t.Month(), t.Day()-1, 0, 0, 0, 0, loc)
	length := w.length()
	// Bounded: a year of windows is far more than any threshold allows.
	for range 400 {
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, w.Start, 0, 0, loc)
		end := time.Date(day.Year(), day.Month(), day.Day(), 0, w.Start+length, 0, 0, loc)
		day = day.AddDate(0, 0, 1)
		if !end.After(t) {
			continue
		}
		if start.Before(t) {
			start = t
		}
		if span := end.Sub(start); span >= need {
			return start.Add(need)
		} else {
			need -= span
		}
	}
	return time.Unix(0, math.MaxInt64)
}

// contains reports whether t falls inside the window in loc.
func (w Window) contains(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End%1440
}

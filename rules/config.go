package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
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
	UnusualQuietFactor  float64
	UnusualQuietMin     time.Duration
	LateWakeMargin      time.Duration
	// off has a bit per entry of Switches that is turned off: the zero
	// value runs everything.
	off uint16
}

// DefaultConfig holds the contract's defaults, as Table gives them.
func DefaultConfig() Config { return defaults }

// Units of threshold parameters.
const (
	UnitHours   = "hours"
	UnitKWh     = "kWh"
	UnitPercent = "percent"
	UnitWindow  = "HH:MM-HH:MM"
	UnitMinutes = "minutes"
	// UnitFactor multiplies what a household usually does.
	UnitFactor = "factor"
)

// Param describes one threshold of a rule in Table: its name, unit, default
// and range, and the field of Config it sets. The config file, household
// overrides and their validation all come from it, so a parameter is added
// in one place.
type Param struct {
	// Rule is the name of the rule in Table that has the parameter.
	Rule string
	Name string
	Unit string
	// Default is the contract's value, as Thresholds spells it: a number,
	// or a string for a window.
	Default any
	// Min and Max bound numeric parameters, inclusive.
	Min, Max float64
	Doc      string

	hours func(*Config) *time.Duration
	num   func(*Config) *float64
	win   func(*Config) *Window
}

// Key is the parameter's config key below `rules.`, e.g. "water_no_use.hours".
func (p Param) Key() string { return p.Rule + "." + p.Name }

func hoursParam(name string, def, min, max float64, doc string, field func(*Config) *time.Duration) Param {
	return Param{Name: name, Unit: UnitHours, Default: def, Min: min, Max: max, Doc: doc, hours: field}
}

func minutesParam(name string, def, min, max float64, doc string, field func(*Config) *time.Duration) Param {
	return Param{Name: name, Unit: UnitMinutes, Default: def, Min: min, Max: max, Doc: doc, hours: field}
}

// per is the duration one unit of a duration parameter stands for.
func (p Param) per() time.Duration {
	if p.Unit == UnitMinutes {
		return time.Minute
	}
	return time.Hour
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
		return float64(*p.hours(c)) / float64(p.per())
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
	if err := p.inRange(f); err != nil {
		return err
	}
	if p.hours != nil {
		*p.hours(c) = time.Duration(f * float64(p.per()))
	} else {
		*p.num(c) = f
	}
	return nil
}

// check says what is wrong with c's value of the parameter, as set would of
// it, without spelling it out: a start checks every household's overrides.
func (p Param) check(c *Config) error {
	switch {
	case p.win != nil:
		if err := p.win(c).check(); err != nil {
			return fmt.Errorf("window %s: %w", p.win(c), err)
		}
		return nil
	case p.hours != nil:
		return p.inRange(float64(*p.hours(c)) / float64(p.per()))
	default:
		return p.inRange(*p.num(c))
	}
}

func (p Param) inRange(f float64) error {
	if !(f >= p.Min && f <= p.Max) { // NaN fails too
		return fmt.Errorf("must be between %g and %g %s, got %g", p.Min, p.Max, p.Unit, f)
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
		r, ok := Lookup(rule)
		if !ok || len(r.Params) == 0 {
			errs = append(errs, fmt.Errorf("%s: unknown rule or a rule without thresholds", rule))
			continue
		}
		for _, name := range sortedKeys(t[rule]) {
			i := slices.IndexFunc(r.Params, func(p Param) bool { return p.Name == name })
			if i < 0 {
				errs = append(errs, fmt.Errorf("%s.%s: unknown parameter (known: %s)", rule, name, strings.Join(r.paramNames(), ", ")))
				continue
			}
			if err := r.Params[i].set(&c, t[rule][name]); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s: %w", rule, name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// effectiveConfigs shares the configurations that households' overrides
// make of the global one. A care level's thresholds profile is the same
// overrides for each of its households: computing and validating a Config
// for each made 1.7 KB of garbage a household at a start, and kept 144
// bytes, 300,000 times at 1,000,000 households with one level set apart
// (docs/performance.md, "Thirty-seventh round"). Keyed by the overrides'
// content and bounded, since a household's own overrides are its own; a
// new global configuration starts afresh.
type effectiveConfigs struct {
	mu     sync.Mutex
	global *Config
	byKey  map[string]*Config
}

// maxEffectiveConfigs bounds the configurations shared: far more than
// there are care levels, far fewer than households.
const maxEffectiveConfigs = 1024

// get is global with t applied (With), shared with every other caller of
// the same global and overrides. The result must not be written to.
func (c *effectiveConfigs) get(global *Config, t Thresholds) (*Config, error) {
	key := thresholdsKey(t)
	c.mu.Lock()
	if c.global != global {
		c.global, c.byKey = global, make(map[string]*Config)
	}
	eff, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return eff, nil
	}
	cfg, err := global.With(t)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.global == global && len(c.byKey) < maxEffectiveConfigs {
		c.byKey[key] = &cfg
	}
	return &cfg, nil
}

// thresholdsKey spells t's content so that two contents never spell the
// same: names and strings quoted, each value with its type (8 and "8" are
// not the same override: the second is refused), a rule without
// parameters too. It is read before t is checked: overrides stored by an
// older version or by hand must not pass for valid ones that spell alike.
func thresholdsKey(t Thresholds) string {
	var b strings.Builder
	for _, rule := range sortedKeys(t) {
		fmt.Fprintf(&b, "%q{", rule)
		for _, name := range sortedKeys(t[rule]) {
			v := t[rule][name]
			fmt.Fprintf(&b, "%q=%T:%#v;", name, v, v)
		}
		b.WriteString("}")
	}
	return b.String()
}

func (r Rule) paramNames() []string {
	names := make([]string, len(r.Params))
	for i, p := range r.Params {
		names[i] = p.Name
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
		if err := p.check(&c); err != nil {
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
	if err := w.check(); err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	return w, nil
}

// check says what is wrong with w: ParseWindow reads only windows that pass.
func (w Window) check() error {
	switch {
	case w.Start < 0 || w.Start >= 1440 || w.End < 0 || w.End > 1440 || w.Start == w.End:
		return errors.New("want two different times of day")
	case w.length() < 60:
		return errors.New("must be at least an hour long")
	}
	return nil
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

package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Defaults of a scenario.
const (
	DefaultSeed     = 1
	DefaultTimezone = registry.DefaultTimezone
	// DefaultStart is a fixed Monday, so that a seed alone decides a run. It
	// lies in the past: a monitor refuses a first ts more than 7 days ahead
	// of its wall clock.
	DefaultStart = "2026-03-02T00:00:00+08:00"
	// DefaultFileDuration is a scenario file's duration when it names none.
	DefaultFileDuration = 24 * time.Hour
)

// Scenario is a neighbourhood, what happens to it, and what the monitor must
// make of it. Decode reads one from YAML; the fields may then be overridden
// (the command line's --seed, --households, ...).
type Scenario struct {
	Name        string
	Description string
	Seed        uint64
	Start       time.Time
	Location    *time.Location
	// Duration is how long the run lasts; zero runs until stopped.
	Duration time.Duration
	// Count is the number of households h1..hCount; Named ones may refine
	// them or add others.
	Count int
	// Profiles are those drawn for households without one; empty: all.
	Profiles []string
	// Sources name, by device name, the devices of every household that
	// speak their own format (CONTRACT.md §14) instead of eldersafe's.
	Sources   map[string]registry.Source
	Named     []NamedHousehold
	Incidents []Incident
	Expect    []Expectation
	// NoOtherTasks makes every task that no expectation names a failure.
	NoOtherTasks bool
	// Population gives every household habits and a life drawn at
	// published rates (population.go): outings, visitors, hospital stays,
	// faulty devices and real incidents, besides the scripted ones.
	Population bool

	file string
}

// NamedHousehold gives a household an id and, optionally, a profile.
type NamedHousehold struct {
	ID      string
	Profile string
}

// Incident is a scripted event in one household.
type Incident struct {
	ID        string
	At        When
	Household string
	Action    string
	Device    string
	For       time.Duration
	Count     int
	line      int
}

// Expectation is a task the monitor must open: for Household, by Rule, no
// later than Within after the anchor named by After.
type Expectation struct {
	Household string
	Rule      string
	Within    time.Duration
	// After is start, incident, incident:<id>, last_water_use, last_motion,
	// last_door_open, last_message (with Device) or a time.
	After  string
	Device string
	line   int
	after  anchor
}

// Anchors an expectation may be timed from.
const (
	AfterStart        = "start"
	AfterIncident     = "incident"
	AfterLastWaterUse = "last_water_use"
	AfterLastMotion   = "last_motion"
	AfterLastDoorOpen = "last_door_open"
	AfterLastMessage  = "last_message"
)

type anchor struct {
	kind     string // one of the After* constants, or "" for a time
	incident string // incident:<id>
	when     When
}

// NewScenario is a scenario of count households and nothing else, for a run
// without a file.
func NewScenario(count int) *Scenario {
	loc, _ := time.LoadLocation(DefaultTimezone)
	start, _ := time.Parse(time.RFC3339, DefaultStart)
	return &Scenario{Name: "households", Seed: DefaultSeed, Start: start.In(loc), Location: loc, Count: count, NoOtherTasks: true, file: "(flags)"}
}

// File is the name the scenario was decoded from.
func (sc *Scenario) File() string { return sc.file }

// The file's schema. Every field is checked against these types: an unknown
// key is an error, with its line.
type fileScenario struct {
	Name         string          `yaml:"name"`
	Description  string          `yaml:"description"`
	Seed         *uint64         `yaml:"seed"`
	Start        *located        `yaml:"start"`
	Timezone     *located        `yaml:"timezone"`
	Duration     *located        `yaml:"duration"`
	Households   *fileHouseholds `yaml:"households"`
	Incidents    []fileIncident  `yaml:"incidents"`
	Expect       []fileExpect    `yaml:"expect"`
	NoOtherTasks *bool           `yaml:"no_other_tasks"`
	Population   *bool           `yaml:"population"`
}

type fileHouseholds struct {
	Count    *locatedInt        `yaml:"count"`
	Profiles []located          `yaml:"profiles"`
	Sources  map[string]located `yaml:"sources"`
	Named    []fileNamed        `yaml:"named"`
}

type fileNamed struct {
	ID      located `yaml:"id"`
	Profile located `yaml:"profile"`
	line    int
}

func (f *fileNamed) UnmarshalYAML(n *yaml.Node) error {
	type plain fileNamed
	f.line = n.Line
	return n.Decode((*plain)(f))
}

type fileIncident struct {
	ID        located     `yaml:"id"`
	At        located     `yaml:"at"`
	Household located     `yaml:"household"`
	Action    located     `yaml:"action"`
	Device    located     `yaml:"device"`
	For       located     `yaml:"for"`
	Count     *locatedInt `yaml:"count"`
	line      int
}

func (f *fileIncident) UnmarshalYAML(n *yaml.Node) error {
	type plain fileIncident
	f.line = n.Line
	return n.Decode((*plain)(f))
}

type fileExpect struct {
	Household located `yaml:"household"`
	Rule      located `yaml:"rule"`
	Within    located `yaml:"within"`
	After     located `yaml:"after"`
	Device    located `yaml:"device"`
	line      int
}

func (f *fileExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain fileExpect
	f.line = n.Line
	return n.Decode((*plain)(f))
}

// located is a scalar with the line it was written on.
type located struct {
	Value string
	Line  int
}

func (l *located) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a single value, got a %s", n.Line, nodeKind(n))}}
	}
	l.Value, l.Line = n.Value, n.Line
	return nil
}

// locatedInt is an integer with the line it was written on.
type locatedInt struct {
	Value int
	Line  int
}

func (l *locatedInt) UnmarshalYAML(n *yaml.Node) error {
	l.Line = n.Line
	return n.Decode(&l.Value)
}

var (
	locatedType    = reflect.TypeFor[located]()
	locatedIntType = reflect.TypeFor[locatedInt]()
)

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// errs gathers a file's errors, each with its line.
type errs struct {
	file string
	list []lineError
}

type lineError struct {
	line int
	msg  string
}

func (e *errs) at(line int, format string, args ...any) {
	e.list = append(e.list, lineError{line, fmt.Sprintf(format, args...)})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	slices.SortStableFunc(e.list, func(a, b lineError) int { return a.line - b.line })
	out := make([]error, len(e.list))
	for i, l := range e.list {
		out[i] = fmt.Errorf("%s:%d: %s", e.file, l.line, l.msg)
	}
	return errors.Join(out...)
}

// yamlLine finds "line N: message" in the YAML library's errors.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (e *errs) yaml(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			n, _ := strconv.Atoi(g[1])
			e.at(n, "%s", g[2])
		} else {
			e.at(0, "%s", strings.TrimPrefix(m, "yaml: "))
		}
	}
}

// maxHouseholds bounds a scenario's households; load runs pass more on the
// command line.
const maxHouseholds = 10_000_000

// Decode reads a scenario from YAML. Every problem is reported with the file
// name and line: unknown keys, values of the wrong type, unknown profiles,
// households, actions, devices and rules, and times that do not parse.
func Decode(file string, data []byte) (*Scenario, error) {
	e := &errs{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty scenario", file)
		}
		e.yaml(err)
		return nil, e.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			e.yaml(err)
		} else {
			e.at(extra.Line, "a scenario file holds one YAML document")
		}
		return nil, e.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		e.at(root.Line, "a scenario is a mapping of name, seed, start, duration, households, incidents, expect, ...")
		return nil, e.err()
	}
	checkKeys(e, root, reflect.TypeFor[fileScenario](), "scenario")
	var f fileScenario
	if err := root.Decode(&f); err != nil {
		// Values of the wrong type leave nothing sound to check further.
		e.yaml(err)
		return nil, e.err()
	}
	sc := f.scenario(e)
	if err := e.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// checkKeys reports every mapping key that the schema type t does not have,
// and every key given twice, with its line.
func checkKeys(e *errs, n *yaml.Node, t reflect.Type, where string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == locatedType, t == locatedIntType:
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); f.IsExported() && name != "" && name != "-" {
				fields[name] = f.Type
				names = append(names, name)
			}
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			switch {
			case !ok:
				e.at(k.Line, "unknown field %q in %s (known: %s)", k.Value, where, strings.Join(names, ", "))
			case seen[k.Value] > 0:
				e.at(k.Line, "field %q given twice in %s (first on line %d)", k.Value, where, seen[k.Value])
			default:
				checkKeys(e, v, ft, k.Value)
			}
			if _, dup := seen[k.Value]; !dup {
				seen[k.Value] = k.Line
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			checkKeys(e, item, t.Elem(), strings.TrimSuffix(where, "s")+" item")
		}
	}
}

func (f *fileScenario) scenario(e *errs) *Scenario {
	sc := NewScenario(0)
	sc.file = e.file
	sc.Name, sc.Description = f.Name, f.Description
	sc.Duration = DefaultFileDuration
	if f.Seed != nil {
		sc.Seed = *f.Seed
	}
	if f.NoOtherTasks != nil {
		sc.NoOtherTasks = *f.NoOtherTasks
	}
	if f.Population != nil {
		sc.Population = *f.Population
	}
	if f.Timezone != nil {
		loc, err := time.LoadLocation(f.Timezone.Value)
		if err != nil || f.Timezone.Value == "" || f.Timezone.Value == "Local" {
			e.at(f.Timezone.Line, "timezone %q: unknown (want an IANA name such as Asia/Shanghai)", f.Timezone.Value)
		} else {
			sc.Location = loc
			sc.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
		}
	}
	if f.Start != nil {
		t, err := ParseStart(f.Start.Value, sc.Location, time.Now)
		if err != nil {
			e.at(f.Start.Line, "%v", err)
		}
		sc.Start = t
	}
	if f.Duration != nil {
		d, err := ParseDuration(f.Duration.Value)
		switch {
		case err != nil:
			e.at(f.Duration.Line, "%v", err)
		case d <= 0:
			e.at(f.Duration.Line, "duration must be positive")
		}
		sc.Duration = d
	}

	if hs := f.Households; hs != nil {
		if c := hs.Count; c != nil {
			if c.Value < 0 || c.Value > maxHouseholds {
				e.at(c.Line, "households.count %d: want 0 to %d", c.Value, maxHouseholds)
			} else {
				sc.Count = c.Value
			}
		}
		for _, p := range hs.Profiles {
			if _, err := profileIndex(p.Value); err != nil {
				e.at(p.Line, "%v", err)
			}
			sc.Profiles = append(sc.Profiles, p.Value)
		}
		for _, name := range slices.Sorted(maps.Keys(hs.Sources)) {
			src := hs.Sources[name]
			if err := canSpeak(name, registry.Source(src.Value)); err != nil {
				e.at(src.Line, "households.sources: %v", err)
				continue
			}
			if sc.Sources == nil {
				sc.Sources = map[string]registry.Source{}
			}
			sc.Sources[name] = registry.Source(src.Value)
		}
		seen := map[string]int{}
		for _, n := range hs.Named {
			if err := registry.ValidateID("household id", n.ID.Value); err != nil {
				e.at(max(n.ID.Line, n.line), "%v", err)
			} else if first, dup := seen[n.ID.Value]; dup {
				e.at(n.ID.Line, "household %q named twice (first on line %d)", n.ID.Value, first)
			}
			seen[n.ID.Value] = n.ID.Line
			if n.Profile.Value != "" {
				if _, err := profileIndex(n.Profile.Value); err != nil {
					e.at(n.Profile.Line, "%v", err)
				}
			}
			sc.Named = append(sc.Named, NamedHousehold{ID: n.ID.Value, Profile: n.Profile.Value})
		}
	}
	if sc.Count == 0 && len(sc.Named) == 0 {
		sc.Count = 1
	}
	known := sc.hasHousehold

	incidentIDs := map[string]int{}
	incidentsOf := map[string]int{}
	for _, fi := range f.Incidents {
		in := Incident{ID: fi.ID.Value, Household: fi.Household.Value, Action: fi.Action.Value, Device: fi.Device.Value, line: fi.line}
		need := func(l located, field string) bool {
			if l.Value == "" {
				e.at(fi.line, "incident: %s is required", field)
				return false
			}
			return true
		}
		if need(fi.At, "at") {
			w, err := ParseWhen(fi.At.Value)
			if err != nil {
				e.at(fi.At.Line, "%v", err)
			}
			in.At = w
		}
		if need(fi.Household, "household") && !known(in.Household) {
			e.at(fi.Household.Line, "unknown household %q (the scenario has %s)", in.Household, sc.describeHouseholds())
		}
		incidentsOf[in.Household]++
		spec, ok := actionByName(in.Action)
		if need(fi.Action, "action") && !ok {
			e.at(fi.Action.Line, "unknown action %q (known: %s)", in.Action, strings.Join(ActionNames(), ", "))
		}
		if ok {
			switch {
			case spec.device == no && in.Device != "":
				e.at(fi.Device.Line, "action %s takes no device", in.Action)
			case spec.device == required && in.Device == "":
				e.at(fi.line, "action %s needs a device (one of %s)", in.Action, strings.Join(DeviceNames(), ", "))
			case in.Device != "" && deviceIndex(in.Device) < 0:
				e.at(fi.Device.Line, "unknown device %q (known: %s)", in.Device, strings.Join(DeviceNames(), ", "))
			}
			switch {
			case spec.duration == no && fi.For.Value != "":
				e.at(fi.For.Line, "action %s takes no duration (for)", in.Action)
			case spec.duration == required && fi.For.Value == "":
				e.at(fi.line, "action %s needs a duration (for), e.g. for: 7d", in.Action)
			case fi.For.Value != "":
				d, err := ParseDuration(fi.For.Value)
				if err != nil {
					e.at(fi.For.Line, "%v", err)
				} else if d <= 0 {
					e.at(fi.For.Line, "for must be positive")
				}
				in.For = d
			}
			if c := fi.Count; c != nil {
				switch {
				case !spec.count:
					e.at(c.Line, "action %s takes no count", in.Action)
				case c.Value < 1 || c.Value > 10000:
					e.at(c.Line, "count %d: want 1 to 10000", c.Value)
				default:
					in.Count = c.Value
				}
			}
		}
		if in.ID != "" {
			if first, dup := incidentIDs[in.ID]; dup {
				e.at(fi.ID.Line, "incident id %q used twice (first on line %d)", in.ID, first)
			}
			incidentIDs[in.ID] = fi.ID.Line
		}
		sc.Incidents = append(sc.Incidents, in)
	}

	ruleNames := slices.DeleteFunc(slices.Clone(rules.Names), func(r string) bool { return r == rules.RuleManual })
	expected := map[[2]string]int{}
	for _, fe := range f.Expect {
		x := Expectation{Household: fe.Household.Value, Rule: fe.Rule.Value, After: fe.After.Value, Device: fe.Device.Value, line: fe.line}
		switch {
		case x.Household == "":
			e.at(fe.line, "expect: household is required")
		case !known(x.Household):
			e.at(fe.Household.Line, "unknown household %q (the scenario has %s)", x.Household, sc.describeHouseholds())
		}
		switch {
		case x.Rule == "":
			e.at(fe.line, "expect: rule is required")
		case !slices.Contains(ruleNames, x.Rule):
			e.at(fe.Rule.Line, "unknown rule %q (known: %s)", x.Rule, strings.Join(ruleNames, ", "))
		}
		if key := [2]string{x.Household, x.Rule}; x.Household != "" && x.Rule != "" {
			if first, dup := expected[key]; dup {
				e.at(fe.line, "%s %s expected twice (first on line %d): a household has one open task per rule", x.Household, x.Rule, first)
			}
			expected[key] = fe.line
		}
		if fe.Within.Value == "" {
			e.at(fe.line, "expect: within is required, e.g. within: 12h30m")
		} else if d, err := ParseDuration(fe.Within.Value); err != nil {
			e.at(fe.Within.Line, "%v", err)
		} else if d <= 0 {
			e.at(fe.Within.Line, "within must be positive")
		} else {
			x.Within = d
		}
		if x.After == "" {
			x.After = AfterIncident
			if incidentsOf[x.Household] == 0 {
				x.After = AfterStart
			}
		}
		line := max(fe.After.Line, fe.line)
		switch a := x.After; {
		case a == AfterStart, a == AfterLastWaterUse, a == AfterLastMotion, a == AfterLastDoorOpen:
			x.after = anchor{kind: a}
		case a == AfterIncident:
			if incidentsOf[x.Household] == 0 {
				e.at(line, "after: incident, but household %q has no incident", x.Household)
			}
			x.after = anchor{kind: a}
		case strings.HasPrefix(a, AfterIncident+":"):
			id := strings.TrimPrefix(a, AfterIncident+":")
			if _, ok := incidentIDs[id]; !ok {
				e.at(line, "after: no incident has id %q", id)
			}
			x.after = anchor{kind: AfterIncident, incident: id}
		case a == AfterLastMessage:
			if x.Device == "" {
				e.at(line, "after: last_message needs a device (one of %s)", strings.Join(DeviceNames(), ", "))
			}
			x.after = anchor{kind: a}
		default:
			w, err := ParseWhen(a)
			if err != nil {
				e.at(line, "after %q: want start, incident, incident:<id>, last_water_use, last_motion, last_door_open, last_message or a time (%v)", a, err)
			}
			x.after = anchor{when: w}
		}
		if x.Device != "" && deviceIndex(x.Device) < 0 {
			e.at(fe.Device.Line, "unknown device %q (known: %s)", x.Device, strings.Join(DeviceNames(), ", "))
		} else if x.Device != "" && x.after.kind != AfterLastMessage {
			e.at(fe.Device.Line, "device is only used with after: last_message")
		}
		sc.Expect = append(sc.Expect, x)
	}
	return sc
}

// hasHousehold reports whether the scenario has a household of that id,
// without listing them all (a load scenario may have millions).
func (sc *Scenario) hasHousehold(id string) bool {
	return sc.generated(id) || slices.ContainsFunc(sc.Named, func(n NamedHousehold) bool { return n.ID == id })
}

func (sc *Scenario) describeHouseholds() string {
	var named []string
	for _, n := range sc.Named {
		if !sc.generated(n.ID) {
			named = append(named, n.ID)
		}
	}
	var parts []string
	switch sc.Count {
	case 0:
	case 1:
		parts = append(parts, "h1")
	default:
		parts = append(parts, fmt.Sprintf("h1 to h%d", sc.Count))
	}
	return strings.Join(append(parts, named...), ", ")
}

type plannedHousehold struct {
	id      string
	profile int
}

// HouseholdIDs lists the scenario's households: h1..hCount, then named ones
// that are not among them.
func (sc *Scenario) HouseholdIDs() []string {
	ids := make([]string, 0, sc.Count+len(sc.Named))
	for i := 1; i <= sc.Count; i++ {
		ids = append(ids, "h"+strconv.Itoa(i))
	}
	for _, n := range sc.Named {
		if !sc.generated(n.ID) {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func (sc *Scenario) generated(id string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "h"))
	return strings.HasPrefix(id, "h") && err == nil && n >= 1 && n <= sc.Count && "h"+strconv.Itoa(n) == id
}

// households lists every household with its profile: a named one's own, or
// one drawn from the allowed profiles with the scenario's seed.
func (sc *Scenario) households() []plannedHousehold {
	allowed := sc.Profiles
	if len(allowed) == 0 {
		allowed = ProfileNames()
	}
	named := map[string]string{}
	for _, n := range sc.Named {
		named[n.ID] = n.Profile
	}
	rng := rand.New(rand.NewPCG(sc.Seed, 0x9e3779b97f4a7c15))
	ids := sc.HouseholdIDs()
	out := make([]plannedHousehold, len(ids))
	for i, id := range ids {
		name := allowed[rng.IntN(len(allowed))]
		if p := named[id]; p != "" {
			name = p
		}
		pi, _ := profileIndex(name)
		out[i] = plannedHousehold{id: id, profile: pi}
	}
	return out
}

func (sc *Scenario) endString() string {
	if sc.Duration == 0 {
		return "no end"
	}
	return sc.Start.Add(sc.Duration).Format(time.RFC3339)
}

// Validate checks what depends on overridable fields: the households that
// incidents and expectations name must still exist (--households may have
// lowered the count).
func (sc *Scenario) Validate() error {
	e := &errs{file: sc.file}
	if sc.Count < 0 || sc.Count > maxHouseholds {
		e.at(0, "households: %d, want 0 to %d", sc.Count, maxHouseholds)
		return e.err()
	}
	for _, in := range sc.Incidents {
		if !sc.hasHousehold(in.Household) {
			e.at(in.line, "incident names household %q, which the run does not have (it has %s)", in.Household, sc.describeHouseholds())
		}
	}
	for _, x := range sc.Expect {
		if !sc.hasHousehold(x.Household) {
			e.at(x.line, "expectation names household %q, which the run does not have (it has %s)", x.Household, sc.describeHouseholds())
		}
	}
	return e.err()
}

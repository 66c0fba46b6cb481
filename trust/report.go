package trust

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/simulator"
)

// Grace is how long after an incident or fault ended a task raised for it
// still counts as true: a rule may see the end of a condition late (the
// water meter reports every 15 minutes).
const Grace = time.Hour

// Report compares the monitor as configured with the fixed-threshold rules
// alone, on one population.
type Report struct {
	Scenario   string  `json:"scenario"`
	Seed       uint64  `json:"seed"`
	Households int     `json:"households"`
	Days       float64 `json:"days"`
	Messages   int64   `json:"messages"`
	Incidents  int     `json:"incidents"`
	Faults     int     `json:"faults"`
	// Configured is the decision step as the configuration has it; Fixed
	// the same with every switch of FixedRules applied.
	Configured Side `json:"configured"`
	Fixed      Side `json:"fixed"`
	// Switches are the FixedRules settings this build knows, as applied to
	// Fixed; when none is known both sides are one run.
	Switches []string `json:"switches"`
	// Unknown are FixedRules settings this build does not have.
	Unknown []string `json:"unknown_switches,omitempty"`
	// Truth is every incident and fault the tasks were judged against.
	Truth []simulator.Truth `json:"truth"`
}

// Side is one configuration's outcome.
type Side struct {
	// Rules has one row per rule that raised a task, in the rule table's
	// order.
	Rules []Row `json:"rules"`
	// Visits totals the visit tasks, Maintenance the device tasks.
	Visits      Row `json:"visits"`
	Maintenance Row `json:"maintenance"`
	// Kinds has one row per kind of incident or fault.
	Kinds []KindRow `json:"kinds"`
	// FalseVisitsPerHouseholdMonth is false visits per household and 30 days.
	FalseVisitsPerHouseholdMonth float64 `json:"false_visits_per_household_month"`
	// Wall is how long the run took.
	Wall Duration `json:"wall"`
}

// Row counts one rule's tasks (or a total's).
type Row struct {
	Rule string `json:"rule"`
	// Visit: its tasks send someone to the resident, not to a device.
	Visit bool `json:"visit"`
	// Raised are the tasks created; Sent those that reached a worker (open);
	// True and False divide Sent by whether an incident (for a visit) or a
	// fault (for upkeep) was there when the task was raised.
	Raised int `json:"raised"`
	Sent   int `json:"sent"`
	True   int `json:"true"`
	False  int `json:"false"`
	// Missed are incidents (faults, for upkeep) no task was sent for: only
	// on the totals.
	Missed int `json:"missed"`
	// Median and P95 are the times from the start of the incident to the
	// worker being sent, over the true tasks.
	Median Duration `json:"median"`
	P95    Duration `json:"p95"`
}

// KindRow is how the incidents or faults of one kind were met.
type KindRow struct {
	Kind   string   `json:"kind"`
	Visit  bool     `json:"visit"`
	Count  int      `json:"count"`
	Missed int      `json:"missed"`
	Median Duration `json:"median"`
	P95    Duration `json:"p95"`
}

// Duration is a time.Duration written in JSON as Go spells it ("1h30m0s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// indexTruth lists, by household, the indexes of its truths.
func indexTruth(truth []simulator.Truth) map[string][]int {
	by := map[string][]int{}
	for i, tr := range truth {
		by[tr.HouseholdID] = append(by[tr.HouseholdID], i)
	}
	return by
}

// cause is the index of the incident (for a visit) or fault (for upkeep) a
// task was raised for, the earliest of its household's that was there when
// it was raised, or -1: a false alarm.
func cause(truth []simulator.Truth, byHousehold map[string][]int, t Task) int {
	match := -1
	for _, i := range byHousehold[t.HouseholdID] {
		tr := truth[i]
		if tr.Visit == t.Visit() && !t.Raised.Before(tr.Start) && !t.Raised.After(tr.End.Add(Grace)) &&
			(match < 0 || tr.Start.Before(truth[match].Start)) {
			match = i
		}
	}
	return match
}

// Judge divides one run's tasks into true and false against its truth.
func Judge(o Observed) Side {
	byHousehold := indexTruth(o.Truth)
	// first[i] is when a worker was first sent for truth i.
	first := make([]time.Time, len(o.Truth))
	type tally struct {
		row  Row
		lags []time.Duration
	}
	rows := map[string]*tally{}
	visits, upkeep := &tally{row: Row{Rule: "visits", Visit: true}}, &tally{row: Row{Rule: "maintenance"}}
	for _, t := range o.Tasks {
		r := rows[t.Rule]
		if r == nil {
			r = &tally{row: Row{Rule: t.Rule, Visit: t.Visit()}}
			rows[t.Rule] = r
		}
		total := upkeep
		if t.Visit() {
			total = visits
		}
		for _, x := range []*tally{r, total} {
			x.row.Raised++
		}
		if t.Sent.IsZero() {
			continue
		}
		match := cause(o.Truth, byHousehold, t)
		for _, x := range []*tally{r, total} {
			x.row.Sent++
			if match < 0 {
				x.row.False++
				continue
			}
			x.row.True++
			x.lags = append(x.lags, t.Sent.Sub(o.Truth[match].Start))
		}
		if match >= 0 && (first[match].IsZero() || t.Sent.Before(first[match])) {
			first[match] = t.Sent
		}
	}
	var side Side
	for _, rule := range rules.Table {
		if r := rows[rule.Name]; r != nil {
			r.row.Median, r.row.P95 = percentiles(r.lags)
			side.Rules = append(side.Rules, r.row)
			delete(rows, rule.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rows)) { // rules the table does not know (yet)
		r := rows[name]
		r.row.Median, r.row.P95 = percentiles(r.lags)
		side.Rules = append(side.Rules, r.row)
	}
	kinds := map[string]*struct {
		row  KindRow
		lags []time.Duration
	}{}
	var order []string
	for i, tr := range o.Truth {
		k := kinds[tr.Kind]
		if k == nil {
			k = &struct {
				row  KindRow
				lags []time.Duration
			}{row: KindRow{Kind: tr.Kind, Visit: tr.Visit}}
			kinds[tr.Kind] = k
			order = append(order, tr.Kind)
		}
		k.row.Count++
		total := &upkeep.row
		if tr.Visit {
			total = &visits.row
		}
		if first[i].IsZero() {
			k.row.Missed++
			total.Missed++
			continue
		}
		k.lags = append(k.lags, first[i].Sub(tr.Start))
	}
	slices.SortFunc(order, func(a, b string) int {
		return cmp.Or(-cmp.Compare(boolInt(kinds[a].row.Visit), boolInt(kinds[b].row.Visit)), strings.Compare(a, b))
	})
	for _, name := range order {
		k := kinds[name]
		k.row.Median, k.row.P95 = percentiles(k.lags)
		side.Kinds = append(side.Kinds, k.row)
	}
	visits.row.Median, visits.row.P95 = percentiles(visits.lags)
	upkeep.row.Median, upkeep.row.P95 = percentiles(upkeep.lags)
	side.Visits, side.Maintenance = visits.row, upkeep.row
	if months := float64(o.Households) * o.Span.Hours() / (30 * 24); months > 0 {
		side.FalseVisitsPerHouseholdMonth = float64(visits.row.False) / months
	}
	side.Wall = Duration(o.Wall)
	return side
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// percentiles are the median and the 95th percentile, by nearest rank.
func percentiles(d []time.Duration) (median, p95 Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	rank := func(p float64) Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		return Duration(d[min(max(i, 0), len(d)-1)])
	}
	return rank(0.5), rank(0.95)
}

// Counts are how many incidents and faults the truth holds.
func counts(truth []simulator.Truth) (incidents, faults int) {
	for _, t := range truth {
		if t.Visit {
			incidents++
		} else {
			faults++
		}
	}
	return incidents, faults
}

// Compare makes the report of a scenario from its configured and fixed runs.
func Compare(sc *simulator.Scenario, configured, fixed Observed, switches, unknown []string) Report {
	incidents, faults := counts(configured.Truth)
	return Report{
		Scenario: sc.Name, Seed: sc.Seed, Households: configured.Households, Days: configured.Span.Hours() / 24,
		Messages: configured.Messages, Incidents: incidents, Faults: faults,
		Configured: Judge(configured), Fixed: Judge(fixed), Switches: switches, Unknown: unknown,
		Truth: configured.Truth,
	}
}

// WriteMarkdown writes the report as the tables of docs/trust.md.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Population `%s`, seed %d: %d households, %g days, %d device messages; %d incidents, %d device faults.\n\n",
		r.Scenario, r.Seed, r.Households, r.Days, r.Messages, r.Incidents, r.Faults)
	c, f := r.Configured, r.Fixed
	fmt.Fprintf(&b, "False visits per household per month: **%.3f** as configured, %.3f with the fixed rules alone", c.FalseVisitsPerHouseholdMonth, f.FalseVisitsPerHouseholdMonth)
	if f.Visits.False > 0 {
		fmt.Fprintf(&b, " (%+.0f %%)", 100*float64(c.Visits.False-f.Visits.False)/float64(f.Visits.False))
	}
	b.WriteString(".\n\n")
	if len(r.Switches) == 0 {
		b.WriteString("This build has none of the switches that tell the two apart, so both columns are one run.\n\n")
	}
	b.WriteString("| rule | raised | sent | true | false | median to send | p95 | fixed: sent | true | false | median | p95 |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fixed := map[string]Row{}
	for _, row := range f.Rules {
		fixed[row.Rule] = row
	}
	var names []string
	for _, row := range c.Rules {
		names = append(names, row.Rule)
	}
	for _, row := range f.Rules {
		if !slices.Contains(names, row.Rule) {
			names = append(names, row.Rule)
		}
	}
	configured := map[string]Row{}
	for _, row := range c.Rules {
		configured[row.Rule] = row
	}
	line := func(name string, a, x Row) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %d | %d | %d | %s | %s |\n", name,
			a.Raised, a.Sent, a.True, a.False, lag(a.True, a.Median), lag(a.True, a.P95), x.Sent, x.True, x.False, lag(x.True, x.Median), lag(x.True, x.P95))
	}
	for _, name := range names {
		line("`"+name+"`", configured[name], fixed[name])
	}
	line("**visits**", c.Visits, f.Visits)
	line("**maintenance**", c.Maintenance, f.Maintenance)
	b.WriteString("\n| incident or fault | count | missed | median to send | p95 | fixed: missed | median | p95 |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fk := map[string]KindRow{}
	for _, k := range f.Kinds {
		fk[k.Kind] = k
	}
	for _, k := range c.Kinds {
		x := fk[k.Kind]
		found, xfound := k.Count-k.Missed, x.Count-x.Missed
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %d | %s | %s |\n", k.Kind, k.Count, k.Missed, lag(found, k.Median), lag(found, k.P95), x.Missed, lag(xfound, x.Median), lag(xfound, x.P95))
	}
	fmt.Fprintf(&b, "| **incidents** | %d | %d | %s | %s | %d | %s | %s |\n", r.Incidents, c.Visits.Missed, lag(c.Visits.True, c.Visits.Median), lag(c.Visits.True, c.Visits.P95),
		f.Visits.Missed, lag(f.Visits.True, f.Visits.Median), lag(f.Visits.True, f.Visits.P95))
	_, err := io.WriteString(w, b.String())
	return err
}

// lag writes a time to send to the minute ("6h12m", "0m"), or a dash when
// it is over no task.
func lag(n int, d Duration) string {
	if n == 0 {
		return "–"
	}
	m := time.Duration(d).Round(time.Minute)
	h, mm := int(m.Hours()), int(m.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%dm", mm)
	}
	return fmt.Sprintf("%dh%02dm", h, mm)
}

// Package history keeps the readings history behind the console's charts.
// Every accepted reading (and every task change) goes to InfluxDB when it is
// configured (package history/influx); otherwise readings are folded into a
// compact hourly roll-up per household in the store (Rollup). Both answer
// the same hourly chart: water litres, motion events, door openings and
// power kWh.
//
// Neither ever holds up ingest: the InfluxDB writer queues points in a
// bounded buffer that a goroutine of its own hands to the client, and the
// roll-up adds a reading to in-memory sums that a goroutine of its own
// writes to the store every few seconds.
package history

import (
	"context"
	"math"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Sources of a chart.
const (
	SourceInfluxDB = "influxdb"
	SourceRollup   = "rollup"
)

// MaxChartDays is the longest chart, in days.
const MaxChartDays = 31

// Hour is one hour of a household's chart. Hour is the start of the hour,
// UTC. Water and power are what the meters' registers rose by, counted in
// the hour of the reading that showed the rise (see Meter); motion events
// and door openings count the readings with motion: true and open: true
// stamped within the hour.
type Hour struct {
	Hour         time.Time `json:"hour"`
	WaterLiters  float64   `json:"water_liters"`
	MotionEvents int64     `json:"motion_events"`
	DoorOpenings int64     `json:"door_openings"`
	PowerKWh     float64   `json:"power_kwh"`
}

// Chart is a household's hourly history over [From, To): one Hour per hour,
// oldest first, zeros included.
type Chart struct {
	Source string
	From   time.Time
	To     time.Time
	Hours  []Hour
}

// Charts answers charts; *Rollup and *influx.Writer implement it.
type Charts interface {
	Chart(ctx context.Context, householdID string, from, to time.Time) (Chart, error)
}

// Recorder takes what the history keeps; *Rollup and *influx.Writer
// implement it. Neither method may block.
type Recorder interface {
	// Reading records an accepted reading.
	Reading(r rules.Reading)
	// TaskChanged records a committed change of a task.
	TaskChanged(e TaskEvent)
}

// TaskEvent is a committed change of a task.
type TaskEvent struct {
	// At is the monitor's clock when the change was committed.
	At          time.Time
	TaskID      string
	HouseholdID string
	Rule        string
	Severity    string
	Kind        string
	// Event is what happened: tasks.ChangeOpened, ChangeAcknowledged, ...
	Event      string
	State      string
	AssigneeID string
	Outcome    string
}

// ChartRange is the hours a chart of days days ending at now covers: from
// days*24 hours before the end of the current hour to the end of the
// current hour.
func ChartRange(now time.Time, days int) (from, to time.Time) {
	to = now.UTC().Truncate(time.Hour).Add(time.Hour)
	return to.Add(-time.Duration(days) * 24 * time.Hour), to
}

// Hours collects a chart's hours over [from, to), each hour present.
type Hours struct {
	from  time.Time
	hours []Hour
}

// NewHours returns zero hours over [from, to); from is truncated to the hour.
func NewHours(from, to time.Time) *Hours {
	from, to = from.UTC().Truncate(time.Hour), to.UTC()
	n := 0
	if to.After(from) {
		n = int((to.Sub(from) + time.Hour - 1) / time.Hour)
	}
	h := &Hours{from: from, hours: make([]Hour, n)}
	for i := range h.hours {
		h.hours[i].Hour = from.Add(time.Duration(i) * time.Hour)
	}
	return h
}

// At is the hour holding t, or nil when t is outside the range.
func (h *Hours) At(t time.Time) *Hour {
	if t.Before(h.from) {
		return nil
	}
	i := int(t.Sub(h.from) / time.Hour)
	if i >= len(h.hours) {
		return nil
	}
	return &h.hours[i]
}

// Add adds x to the hour holding x.Hour, if it is in range.
func (h *Hours) Add(x Hour) {
	if at := h.At(x.Hour); at != nil {
		at.WaterLiters += x.WaterLiters
		at.MotionEvents += x.MotionEvents
		at.DoorOpenings += x.DoorOpenings
		at.PowerKWh += x.PowerKWh
	}
}

// Hours returns the hours, litres and kWh rounded to three decimals (a
// millilitre, a watt-hour): sums of float differences otherwise show as
// 0.30000000000000004.
func (h *Hours) Hours() []Hour {
	for i := range h.hours {
		h.hours[i].WaterLiters = round3(h.hours[i].WaterLiters)
		h.hours[i].PowerKWh = round3(h.hours[i].PowerKWh)
	}
	return h.hours
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// MaxRegisterGap is the longest gap between two readings of a meter whose
// difference still counts: what a meter silent for longer used cannot be
// placed in time, so its next reading only sets a new starting point.
const MaxRegisterGap = 7 * 24 * time.Hour

// Meter follows one cumulative register (a water meter's total_liters, a
// power meter's total_kwh). The roll-up and the InfluxDB chart both count
// with it, so they agree: a reading newer than the last one counts what the
// register rose by since, in the hour of the newer reading. A register that
// went down (a replaced meter) or a gap over MaxRegisterGap counts nothing
// and starts afresh; a reading no newer than the last one (late, repeated)
// is ignored. The zero Meter has seen nothing.
type Meter struct {
	At    time.Time
	Value float64
}

// Advance takes a reading of the register and returns what it rose by since
// the previous one, and whether that counts.
func (m *Meter) Advance(at time.Time, value float64) (float64, bool) {
	if !m.At.IsZero() && !at.After(m.At) {
		return 0, false
	}
	prev := *m
	m.At, m.Value = at, value
	if prev.At.IsZero() || value < prev.Value || at.Sub(prev.At) > MaxRegisterGap {
		return 0, false
	}
	return value - prev.Value, true
}

// Register fields: the cumulative registers of the device contract.
const (
	FieldTotalLiters = "total_liters"
	FieldTotalKWh    = "total_kwh"
)

// Register is the cumulative register a reading carries, if any: its field
// name and value.
func Register(r rules.Reading) (field string, value float64, ok bool) {
	switch {
	case r.Kind == registry.WaterMeter && r.TotalLiters != nil:
		return FieldTotalLiters, *r.TotalLiters, true
	case r.Kind == registry.PowerMeter && r.TotalKWh != nil:
		return FieldTotalKWh, *r.TotalKWh, true
	}
	return "", 0, false
}

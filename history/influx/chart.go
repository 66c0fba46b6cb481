package influx

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/history"
)

// Chart answers a household's hourly chart over [from, to) with one Flux
// query (InfluxDB 1.8 needs flux-enabled = true in its [http] section):
//
//   - first and last: the first and the last total_liters and total_kwh
//     reading of every meter in every hour, from history.MaxRegisterGap
//     before from, so that the first hour has a reading to count from.
//     What a meter used is then counted in Go with history.Meter, the
//     roll-up's rule, over those readings in time order: a register only
//     rises, so an hour's rise is its last reading less the one before it,
//     the same sum the roll-up makes reading by reading;
//   - events: per motion sensor and door sensor and hour, the count of
//     motion: true and open: true readings.
//
// The answer is the roll-up's JSON with source influxdb.
func (w *Writer) Chart(ctx context.Context, householdID string, from, to time.Time) (history.Chart, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC()
	if !to.After(from) {
		return history.Chart{Source: history.SourceInfluxDB, From: from, To: to, Hours: []history.Hour{}}, nil
	}
	res, err := w.query.Query(ctx, chartQuery(w.opts.Bucket, householdID, from, to))
	if err != nil {
		return history.Chart{}, fmt.Errorf("influxdb: chart query: %w", err)
	}
	defer res.Close()
	hours := history.NewHours(from, to)
	type reading struct {
		at    time.Time
		value float64
	}
	registers := make(map[[2]string][]reading) // device id, field → hourly last readings
	for res.Next() {
		rec := res.Record()
		device, _ := rec.ValueByKey("device_id").(string)
		switch rec.Result() {
		case "first", "last":
			v, ok := number(rec.Value())
			if !ok {
				continue
			}
			k := [2]string{device, rec.Field()}
			registers[k] = append(registers[k], reading{at: rec.Time(), value: v})
		case "events":
			n, ok := number(rec.Value())
			if !ok {
				continue
			}
			h := history.Hour{Hour: rec.Start()}
			switch rec.Field() {
			case "motion":
				h.MotionEvents = int64(n)
			case "open":
				h.DoorOpenings = int64(n)
			}
			hours.Add(h)
		}
	}
	if err := res.Err(); err != nil {
		return history.Chart{}, fmt.Errorf("influxdb: chart query: %w", err)
	}
	for k, rs := range registers {
		slices.SortFunc(rs, func(a, b reading) int { return a.at.Compare(b.at) })
		var m history.Meter
		for _, r := range rs {
			d, ok := m.Advance(r.at, r.value)
			if !ok || d == 0 {
				continue
			}
			h := history.Hour{Hour: r.at}
			if k[1] == history.FieldTotalLiters {
				h.WaterLiters = d
			} else {
				h.PowerKWh = d
			}
			hours.Add(h)
		}
	}
	return history.Chart{Source: history.SourceInfluxDB, From: from, To: to, Hours: hours.Hours()}, nil
}

// chartQuery is the Flux script of a chart. Filters on a field come before
// filters on its value: a predicate comparing a float column with true
// would fail on the float tables.
func chartQuery(bucket, householdID string, from, to time.Time) string {
	lookback := from.Add(-history.MaxRegisterGap)
	return fmt.Sprintf(`data = from(bucket: "%s")
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "%s" and r.household_id == "%s")

registers = data
  |> filter(fn: (r) => r._field == "%s" or r._field == "%s")
  |> window(every: 1h)

registers |> first() |> yield(name: "first")
registers |> last() |> yield(name: "last")

data
  |> filter(fn: (r) => r._time >= %s)
  |> filter(fn: (r) => (r._field == "motion" and r.kind == "motion_sensor") or (r._field == "open" and r.kind == "door_sensor"))
  |> filter(fn: (r) => r._value == true)
  |> window(every: 1h)
  |> count()
  |> yield(name: "events")
`, fluxString(bucket), fluxTime(lookback), fluxTime(to), MeasurementReading, fluxString(householdID),
		history.FieldTotalLiters, history.FieldTotalKWh, fluxTime(from))
}

// fluxString escapes s for a Flux string literal.
func fluxString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`).Replace(s)
}

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

package influx

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/rules"
)

// Points are encoded here as line protocol, with millisecond timestamps,
// and handed to the client with WriteRecord: about 20 times cheaper than
// building a write.Point and letting the client encode it (see
// docs/performance.md). Tags and fields come in sorted order; empty tags
// are left out, which InfluxDB requires.

// AppendReading appends a reading as a line of line protocol, without the
// newline: measurement reading; tags device_id, household_id and kind; as
// fields every number and boolean of the payload under its contract name,
// the strings event and room when present, and stream, so that every point
// has a field (a heartbeat may carry nothing else). Numbers are always
// floats, so a field never changes type between points.
func AppendReading(b []byte, r rules.Reading) []byte {
	b = append(b, MeasurementReading...)
	b = appendTag(b, "device_id", r.DeviceID)
	b = appendTag(b, "household_id", r.HouseholdID)
	b = appendTag(b, "kind", string(r.Kind))
	f := fieldWriter{b: b}
	f.float("accuracy_m", r.AccuracyM)
	f.float("battery_pct", r.BatteryPct)
	f.str("event", r.Event)
	f.float("flow_lpm", r.FlowLPM)
	f.float("heart_rate", r.HeartRate)
	f.float("lat", r.Lat)
	f.float("lon", r.Lon)
	f.boolean("motion", r.Motion)
	f.boolean("online", r.Online)
	f.boolean("open", r.Open)
	f.float("power_w", r.PowerW)
	f.str("room", r.Room)
	f.str("stream", string(r.Stream))
	f.float("total_kwh", r.TotalKWh)
	f.float("total_liters", r.TotalLiters)
	f.boolean("worn", r.Worn)
	return appendTime(f.b, r.TS)
}

// AppendTaskEvent appends a task change as a line of line protocol:
// measurement task_event; the low-cardinality facts as tags (event,
// household_id, kind, rule, severity); the task's id, state, assignee and
// outcome as string fields.
func AppendTaskEvent(b []byte, e history.TaskEvent) []byte {
	b = append(b, MeasurementTaskEvent...)
	b = appendTag(b, "event", e.Event)
	b = appendTag(b, "household_id", e.HouseholdID)
	b = appendTag(b, "kind", e.Kind)
	b = appendTag(b, "rule", e.Rule)
	b = appendTag(b, "severity", e.Severity)
	f := fieldWriter{b: b}
	f.str("assignee_id", e.AssigneeID)
	f.str("outcome", e.Outcome)
	f.str("state", e.State)
	f.str("task_id", e.TaskID)
	return appendTime(f.b, e.At)
}

// ReadingLine and TaskEventLine are the lines as strings.
func ReadingLine(r rules.Reading) string       { return string(AppendReading(nil, r)) }
func TaskEventLine(e history.TaskEvent) string { return string(AppendTaskEvent(nil, e)) }

func appendTag(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, '=')
	return appendEscaped(b, value, false)
}

// appendEscaped escapes a tag value (commas, equals signs and spaces; a
// backslash becomes a slash) or, quoted, a string field value (double
// quotes and backslashes). A newline becomes a space.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	special := ",= \\\n\r"
	if quoted {
		special = "\"\\\n\r"
	}
	if strings.IndexAny(s, special) < 0 {
		return append(b, s...) // nearly always: ids are plain
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && (c == '"' || c == '\\'):
			b = append(b, '\\')
		case !quoted && (c == ',' || c == '=' || c == ' '):
			b = append(b, '\\')
		case !quoted && c == '\\':
			c = '/' // line protocol cannot always escape one (ids never hold any)
		case c == '\n' || c == '\r':
			c = ' ' // a newline would end the line
			if !quoted {
				b = append(b, '\\')
			}
		}
		b = append(b, c)
	}
	return b
}

// fieldWriter appends the field set: a space before the first field, a
// comma before the others.
type fieldWriter struct {
	b []byte
	n int
}

func (f *fieldWriter) key(k string) {
	if f.n == 0 {
		f.b = append(f.b, ' ')
	} else {
		f.b = append(f.b, ',')
	}
	f.n++
	f.b = append(f.b, k...)
	f.b = append(f.b, '=')
}

func (f *fieldWriter) float(k string, v *float64) {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return
	}
	f.key(k)
	f.b = strconv.AppendFloat(f.b, *v, 'f', -1, 64)
}

func (f *fieldWriter) boolean(k string, v *bool) {
	if v == nil {
		return
	}
	f.key(k)
	f.b = strconv.AppendBool(f.b, *v)
}

func (f *fieldWriter) str(k, v string) {
	if v == "" {
		return
	}
	f.key(k)
	f.b = append(f.b, '"')
	f.b = appendEscaped(f.b, v, true)
	f.b = append(f.b, '"')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, ' ')
	return strconv.AppendInt(b, t.UnixMilli(), 10)
}

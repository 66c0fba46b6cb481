package clock

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseTS(t *testing.T) {
	tests := []struct {
		raw     string
		want    time.Time
		wantErr string
	}{
		{`"2026-03-01T09:12:00+08:00"`, time.Date(2026, 3, 1, 1, 12, 0, 0, time.UTC), ""},
		{`"2026-03-01T01:12:00.250Z"`, time.Date(2026, 3, 1, 1, 12, 0, 250e6, time.UTC), ""},
		{`1772327520000`, time.Date(2026, 3, 1, 1, 12, 0, 0, time.UTC), ""},
		{``, time.Time{}, "ts: required"},
		{`null`, time.Time{}, "ts: required"},
		{`"2026-03-01 09:12"`, time.Time{}, "want RFC 3339 with offset"},
		{`"2026-03-01T09:12:00"`, time.Time{}, "want RFC 3339 with offset"},
		{`1.5e12`, time.Time{}, "is not integer Unix milliseconds"},
		{`true`, time.Time{}, "got true"},
		{`{}`, time.Time{}, "got {}"},
		{`0`, time.Time{}, "before 2000"},
		{`"1999-12-31T23:59:59Z"`, time.Time{}, "before 2000"},
		{`253402300800000`, time.Time{}, "after year 9999"},
	}
	for _, tt := range tests {
		got, err := ParseTS(json.RawMessage(tt.raw))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTS(%s) = %v, %v; want an error containing %q", tt.raw, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTS(%s) = %v, %v; want %v in UTC", tt.raw, got, err, tt.want)
		}
	}
}

func FuzzParseTS(f *testing.F) {
	for _, s := range []string{`"2026-03-01T09:12:00+08:00"`, `1772327520000`, `null`, `"x"`, `-1`, `[1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return // ParseTS reads values encoding/json already checked
		}
		ts, err := ParseTS(json.RawMessage(raw))
		if err != nil {
			return
		}
		if ts.Before(minTS) || ts.After(maxTS) || ts.Location() != time.UTC {
			t.Fatalf("ParseTS(%s) = %v: out of bounds or not UTC", raw, ts)
		}
	})
}

// BenchmarkParseTS measures a device's time as most send it. Run with
// go test -run=^$ -bench=BenchmarkParseTS -benchmem ./clock/
func BenchmarkParseTS(b *testing.B) {
	raw := json.RawMessage(`"2026-03-01T09:12:00+08:00"`)
	for range b.N {
		if _, err := ParseTS(raw); err != nil {
			b.Fatal(err)
		}
	}
}

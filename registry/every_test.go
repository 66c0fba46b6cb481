package registry

import (
	"testing"
	"time"
)

func TestParseEvery(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
		out  string
	}{
		{"", 0, true, ""},
		{"15m", 15 * time.Minute, true, "15m"},
		{"4h", 4 * time.Hour, true, "4h"},
		{"1h30m", 90 * time.Minute, true, "90m"},
		{"168h", 168 * time.Hour, true, "168h"},
		{"1m", time.Minute, true, "1m"},
		{"169h", 0, false, ""},
		{"30s", 0, false, ""},
		{"90s", 0, false, ""}, // not whole minutes
		{"-1h", 0, false, ""},
		{"4", 0, false, ""},
		{"four hours", 0, false, ""},
	} {
		got, err := ParseEvery(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseEvery(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && FormatEvery(got) != tc.out {
			t.Errorf("FormatEvery(%v) = %q, want %q", got, FormatEvery(got), tc.out)
		}
	}
}

package registry

import (
	"strings"
	"testing"
	"time"
)

func TestParseQuietHours(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string // empty: valid
	}{
		{"22:00-07:00", ""},
		{"00:00-23:59", ""},
		{"13:00-14:30", ""},
		{"22:00", "want HH:MM-HH:MM"},
		{"22:00-22:00", "must differ"},
		{"24:00-07:00", "00:00 to 23:59"},
		{"22:60-07:00", "00:00 to 23:59"},
		{"7:00-22:00", "want HH:MM"},
		{" 7:00-22:00", "want HH:MM"},
		{"+7:00-22:00", "want HH:MM"},
		{"22:00-07:00 ", "want HH:MM"},
		{"", "want HH:MM-HH:MM"},
	} {
		_, err := ParseQuietHours(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseQuietHours(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseQuietHours(%q) = %v, want an error containing %q", tc.in, err, tc.wantErr)
		}
	}
	bad := Household{ID: "h1", Name: "Li", Address: "401", GridID: "g1",
		Contacts: []Contact{{Name: "Li Wei", Relation: "son", Channels: []string{ChannelLog}, QuietHours: "late-early"}}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "contacts[0]: quiet_hours") {
		t.Errorf("Validate with bad quiet_hours = %v, want it named", err)
	}
}

func TestQuietHoursUntil(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, day, h, m, s int) time.Time { return time.Date(2025, 3, day, h, m, s, 0, loc) }
	overnight, _ := ParseQuietHours("22:00-07:00")
	afternoon, _ := ParseQuietHours("13:00-14:30")
	for _, tc := range []struct {
		name  string
		q     QuietHours
		t     time.Time
		loc   *time.Location
		want  time.Time // zero: not quiet
		quiet bool
	}{
		{"BeforeStart", overnight, at(shanghai, 10, 21, 59, 59), shanghai, time.Time{}, false},
		{"AtStart", overnight, at(shanghai, 10, 22, 0, 0), shanghai, at(shanghai, 11, 7, 0, 0), true},
		{"BeforeMidnight", overnight, at(shanghai, 10, 23, 30, 0), shanghai, at(shanghai, 11, 7, 0, 0), true},
		{"AfterMidnight", overnight, at(shanghai, 11, 3, 0, 0), shanghai, at(shanghai, 11, 7, 0, 0), true},
		{"LastSecond", overnight, at(shanghai, 11, 6, 59, 59), shanghai, at(shanghai, 11, 7, 0, 0), true},
		{"AtEnd", overnight, at(shanghai, 11, 7, 0, 0), shanghai, time.Time{}, false},
		{"Daytime", overnight, at(shanghai, 11, 12, 0, 0), shanghai, time.Time{}, false},
		// The instant is judged in the household's zone, not the caller's.
		{"UTCInstant", overnight, time.Date(2025, 3, 10, 15, 0, 0, 0, time.UTC), shanghai, at(shanghai, 11, 7, 0, 0), true},
		{"SameDayInside", afternoon, at(shanghai, 10, 13, 45, 0), shanghai, at(shanghai, 10, 14, 30, 0), true},
		{"SameDayOutside", afternoon, at(shanghai, 10, 14, 30, 0), shanghai, time.Time{}, false},
		// The night the clocks go forward (30 March 2025, 01:00 → 02:00 in London):
		// 07:00 local is still 07:00 local, an hour less after the start.
		{"DaylightSaving", overnight, time.Date(2025, 3, 29, 23, 0, 0, 0, london), london, time.Date(2025, 3, 30, 7, 0, 0, 0, london), true},
	} {
		got, quiet := tc.q.Until(tc.t, tc.loc)
		if quiet != tc.quiet || !got.Equal(tc.want) {
			t.Errorf("%s: Until(%v) = %v, %v; want %v, %v", tc.name, tc.t, got, quiet, tc.want, tc.quiet)
		}
	}
}

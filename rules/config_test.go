package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConfigWith(t *testing.T) {
	tests := []struct {
		name    string
		in      Thresholds
		wantErr []string // each must appear in the error
		check   func(Config) bool
	}{
		{"hours", Thresholds{"water_no_use": {"hours": 10.0}}, nil, func(c Config) bool { return c.WaterNoUse == 10*time.Hour }},
		{"fractional hours", Thresholds{"no_motion": {"hours": 4.5}}, nil, func(c Config) bool { return c.NoMotion == 4*time.Hour+30*time.Minute }},
		{"window", Thresholds{"no_motion": {"window": "06:30-23:00"}}, nil, func(c Config) bool { return c.NoMotionWindow == Window{390, 1380} }},
		{"floor and percent", Thresholds{"power_no_use": {"floor_kwh": 0.5}, "battery_low": {"pct": 20}}, nil,
			func(c Config) bool { return c.PowerNoUseFloorKWh == 0.5 && c.BatteryLowPct == 20 }},
		{"empty changes nothing", Thresholds{}, nil, func(c Config) bool { return c == DefaultConfig() }},
		{"unknown rule", Thresholds{"no_water": {"hours": 1.0}}, []string{"no_water: unknown rule"}, nil},
		{"rule without thresholds", Thresholds{"fall": {"hours": 1.0}}, []string{"fall: unknown rule"}, nil},
		{"unknown parameter names the known ones", Thresholds{"water_no_use": {"minutes": 600.0}},
			[]string{"water_no_use.minutes: unknown parameter (known: hours)"}, nil},
		{"wrong unit", Thresholds{"water_no_use": {"hours": "10h"}}, []string{"water_no_use.hours: must be a number of hours"}, nil},
		{"negative", Thresholds{"water_no_use": {"hours": -1.0}}, []string{"water_no_use.hours: must be between 1 and 168 hours, got -1"}, nil},
		{"bad window", Thresholds{"no_motion": {"window": "7-22"}}, []string{"no_motion.window"}, nil},
		{"window as a number", Thresholds{"no_motion": {"window": 7.0}}, []string{"no_motion.window: must be a window"}, nil},
		{"every error is named", Thresholds{"battery_low": {"pct": 0.0}, "no_exit": {"hours": 1e9}},
			[]string{"battery_low.pct", "no_exit.hours"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DefaultConfig().With(tt.in)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("accepted %v", tt.in)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestThresholdsRoundTrip(t *testing.T) {
	want := DefaultConfig()
	got, err := Config{}.With(want.Thresholds())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("round trip: %+v, want %+v", got, want)
	}
	th := want.Thresholds()
	if th["water_no_use"]["hours"] != 12.0 || th["no_motion"]["window"] != "07:00-22:00" || th["power_no_use"]["floor_kwh"] != 1.2 {
		t.Errorf("thresholds = %v", th)
	}
	for _, p := range Params {
		if p.Doc == "" || p.Unit == "" {
			t.Errorf("%s has no unit or doc", p.Key())
		}
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.WaterNoUse = -time.Hour
	if _, err := NewEngine(c, time.UTC); err == nil || !strings.Contains(err.Error(), "rules.water_no_use.hours") {
		t.Errorf("negative threshold: %v", err)
	}
	if _, err := NewEngine(DefaultConfig(), nil); err == nil {
		t.Error("no default zone accepted")
	}
	for _, tt := range []struct {
		name string
		set  func(*Config)
		want string // in the error; none when empty
	}{
		{"defaults", func(*Config) {}, ""},
		{"at the bounds", func(c *Config) { c.WaterNoUse, c.BatteryLowPct = time.Hour, 90 }, ""},
		{"hours below", func(c *Config) { c.WaterNoUse = time.Hour - time.Second }, "rules.water_no_use.hours: must be between 1 and 168 hours"},
		{"minutes above", func(c *Config) { c.LateWakeMargin = 361 * time.Minute }, "rules.late_wake.margin: must be between 15 and 360 minutes, got 361"},
		{"percent", func(c *Config) { c.BatteryLowPct = 0 }, "rules.battery_low.pct"},
		{"window short", func(c *Config) { c.NoMotionWindow = Window{420, 440} }, "rules.no_motion.window: window 07:00-07:20: must be at least an hour long"},
		{"window off the clock", func(c *Config) { c.NoMotionWindow = Window{-5, 600} }, "rules.no_motion.window"},
	} {
		c := DefaultConfig()
		tt.set(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestWindowCheck holds Validate's check of a window to what ParseWindow
// reads of its spelling, at the edges of the clock and of an hour's length.
func TestWindowCheck(t *testing.T) {
	edges := []int{-1, 0, 1, 30, 59, 60, 61, 419, 420, 479, 480, 481, 1379, 1380, 1381, 1410, 1439, 1440, 1441}
	for _, start := range edges {
		for _, end := range edges {
			w := Window{start, end}
			back, err := ParseWindow(w.String())
			parsed := err == nil && back == w
			if checked := w.check() == nil; checked != parsed {
				t.Errorf("%v: check passes %v, ParseWindow(%q) = %v, %v", w, checked, w.String(), back, err)
			}
		}
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in   string
		want Window
		err  bool
	}{
		{"07:00-22:00", Window{420, 1320}, false},
		{"22:00-06:00", Window{1320, 360}, false},
		{"00:00-24:00", Window{0, 1440}, false},
		{" 07:00 - 22:00 ", Window{420, 1320}, false},
		{"07:00-07:00", Window{}, true},
		{"07:00-07:59", Window{}, true},
		{"23:30-00:30", Window{1410, 30}, false},
		{"24:00-07:00", Window{}, true},
		{"7:00-22:00", Window{}, true},
		{"07:60-22:00", Window{}, true},
		{"07:00", Window{}, true},
		{"ab:cd-22:00", Window{}, true},
	}
	for _, tt := range tests {
		got, err := ParseWindow(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseWindow(%q) = %v, %v", tt.in, got, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("window %q: ", tt.in)) {
			t.Errorf("ParseWindow(%q): %v, want the error to quote what was written", tt.in, err)
		}
		if err == nil && strings.TrimSpace(tt.in) == tt.in && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestWindowAfter(t *testing.T) {
	berlin := mustZone("Europe/Berlin")
	at := func(loc *time.Location, d, hh, mm int) time.Time { return time.Date(2026, 3, d, hh, mm, 0, 0, loc) }
	day := Window{7 * 60, 22 * 60}
	night := Window{22 * 60, 6 * 60}
	tests := []struct {
		name string
		w    Window
		from time.Time
		need time.Duration
		want time.Time
	}{
		{"inside", day, at(time.UTC, 2, 8, 0), 6 * time.Hour, at(time.UTC, 2, 14, 0)},
		{"before the window", day, at(time.UTC, 2, 3, 0), time.Hour, at(time.UTC, 2, 8, 0)},
		{"carried to the next day", day, at(time.UTC, 2, 20, 0), 6 * time.Hour, at(time.UTC, 3, 11, 0)},
		{"ends exactly at the window's end", day, at(time.UTC, 2, 16, 0), 6 * time.Hour, at(time.UTC, 2, 22, 0)},
		{"longer than a day's window", day, at(time.UTC, 2, 7, 0), 20 * time.Hour, at(time.UTC, 3, 12, 0)},
		{"across midnight, started yesterday", night, at(time.UTC, 2, 1, 0), 2 * time.Hour, at(time.UTC, 2, 3, 0)},
		{"across midnight, from the afternoon", night, at(time.UTC, 2, 15, 0), 7 * time.Hour, at(time.UTC, 3, 5, 0)},
		{"across midnight, carried", night, at(time.UTC, 2, 5, 0), 3 * time.Hour, at(time.UTC, 3, 0, 0)},
		{"daylight saving: the night of 29 March is an hour shorter", night, at(berlin, 28, 22, 0), 7 * time.Hour, at(berlin, 29, 6, 0)},
		{"daylight saving: one hour less of window that night", night, at(berlin, 28, 22, 0), 8 * time.Hour, at(berlin, 29, 22, 0).Add(time.Hour)},
		{"in the household's zone", day, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Hour, time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.from.Location()
			if tt.name == "in the household's zone" {
				loc = shanghai
			}
			if got := tt.w.after(tt.from, tt.need, loc); !got.Equal(tt.want) {
				t.Errorf("after = %v, want %v", got.In(loc), tt.want.In(loc))
			}
		})
	}
}

package history_test

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/history"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestMeter_Advance(t *testing.T) {
	type step struct {
		at    time.Duration // after t0
		value float64
		delta float64
		ok    bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"FirstReadingCountsNothing", []step{{0, 100, 0, false}}},
		{"Rises", []step{{0, 100, 0, false}, {time.Minute, 112.5, 12.5, true}, {2 * time.Minute, 112.5, 0, true}}},
		{"LateReadingIgnored", []step{{0, 100, 0, false}, {time.Hour, 110, 10, true}, {30 * time.Minute, 105, 0, false}, {2 * time.Hour, 111, 1, true}}},
		{"RepeatIgnored", []step{{0, 100, 0, false}, {time.Hour, 110, 10, true}, {time.Hour, 110, 0, false}}},
		{"ReplacedMeterStartsAfresh", []step{{0, 5000, 0, false}, {time.Hour, 3, 0, false}, {2 * time.Hour, 10, 7, true}}},
		{"LongGapStartsAfresh", []step{{0, 100, 0, false}, {history.MaxRegisterGap + time.Second, 900, 0, false}, {history.MaxRegisterGap + time.Hour, 901, 1, true}}},
		{"GapOfExactlyTheLimitCounts", []step{{0, 100, 0, false}, {history.MaxRegisterGap, 150, 50, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m history.Meter
			for i, s := range tc.steps {
				d, ok := m.Advance(t0.Add(s.at), s.value)
				if d != s.delta || ok != s.ok {
					t.Errorf("step %d (%s, %g): got %g, %v; want %g, %v", i, s.at, s.value, d, ok, s.delta, s.ok)
				}
			}
		})
	}
}

func TestChartRange(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 41, 7, 0, time.FixedZone("CST", 8*3600))
	from, to := history.ChartRange(now, 7)
	wantTo := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 09:41+08 is 01:41Z
	if !to.Equal(wantTo) || !from.Equal(wantTo.Add(-7*24*time.Hour)) {
		t.Errorf("ChartRange = %s, %s; want %s, %s", from, to, wantTo.Add(-7*24*time.Hour), wantTo)
	}
	if got := len(history.NewHours(from, to).Hours()); got != 7*24 {
		t.Errorf("%d hours, want %d", got, 7*24)
	}
}

func TestHours(t *testing.T) {
	h := history.NewHours(t0, t0.Add(3*time.Hour))
	h.Add(history.Hour{Hour: t0.Add(90 * time.Minute), WaterLiters: 0.1, MotionEvents: 1})
	h.Add(history.Hour{Hour: t0.Add(100 * time.Minute), WaterLiters: 0.2, DoorOpenings: 2})
	h.Add(history.Hour{Hour: t0.Add(-time.Second), MotionEvents: 5})  // before
	h.Add(history.Hour{Hour: t0.Add(3 * time.Hour), MotionEvents: 5}) // at to: after
	got := h.Hours()
	want := []history.Hour{
		{Hour: t0},
		{Hour: t0.Add(time.Hour), WaterLiters: 0.3, MotionEvents: 1, DoorOpenings: 2},
		{Hour: t0.Add(2 * time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("hour %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

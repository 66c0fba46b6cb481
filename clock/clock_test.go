package clock

import (
	"testing"
	"time"
)

func TestEvent(t *testing.T) {
	c := NewEvent(time.Time{})
	if c.Started() {
		t.Fatal("a new event clock has started")
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	steps := []struct {
		to        time.Time
		wantMoved bool
		wantNow   time.Time
	}{
		{t0, true, t0},
		{t0.Add(-time.Hour), false, t0},
		{t0, false, t0},
		{t0.Add(time.Minute), true, t0.Add(time.Minute)},
	}
	for i, s := range steps {
		if moved := c.Advance(s.to); moved != s.wantMoved {
			t.Errorf("step %d: moved = %v, want %v", i, moved, s.wantMoved)
		}
		if !c.Now().Equal(s.wantNow) {
			t.Errorf("step %d: now = %v, want %v", i, c.Now(), s.wantNow)
		}
		if c.Now().Location() != time.UTC {
			t.Errorf("step %d: now is not in UTC", i)
		}
	}
}

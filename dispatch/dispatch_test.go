package dispatch

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

func TestClampFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		ts, want time.Time
	}{
		{now.Add(-time.Hour), now.Add(-time.Hour)},
		{now.Add(maxAhead), now.Add(maxAhead)},
		{now.Add(maxAhead + time.Millisecond), now},
		{now.Add(6 * 24 * time.Hour), now},
	} {
		if got := clampFuture(rules.Reading{TS: tt.ts}, now).TS; !got.Equal(tt.want) {
			t.Errorf("ts %v applied at %v, want %v", tt.ts, got, tt.want)
		}
	}
}

package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/rules"
)

// nopStore takes the roll-up's writes and keeps nothing.
type nopStore struct{}

func (nopStore) AddReadingHours(context.Context, []history.HouseholdHour, []history.MeterRegister) error {
	return nil
}
func (nopStore) ReadingHours(context.Context, string, time.Time, time.Time) ([]history.Hour, error) {
	return nil, nil
}
func (nopStore) CountMeterRegisters(context.Context) (int, error) { return 0, nil }
func (nopStore) EachMeterRegister(context.Context, func(history.MeterRegister) error) error {
	return nil
}
func (nopStore) PruneReadingHours(context.Context, time.Time) (int64, error) { return 0, nil }
func (nopStore) DeleteReadingHours(context.Context, string) error            { return nil }

// BenchmarkRollup_Reading is what the roll-up costs an ingest worker per
// reading: a mix of meter registers, motion and door events over 10,000
// households, flushed (to a store that keeps nothing) every 100,000.
func BenchmarkRollup_Reading(b *testing.B) {
	r, err := history.NewRollup(history.RollupOptions{Store: nopStore{}, Clock: clock.Wall{}})
	if err != nil {
		b.Fatal(err)
	}
	const households = 10000
	readings := make([]rules.Reading, 0, 4*households)
	for h := range households {
		id := fmt.Sprintf("h-%05d", h)
		readings = append(readings,
			water(id, "wm-"+id, t0, 100),
			power(id, "pm-"+id, t0, 10),
			motion(id, "pir-"+id, t0, true),
			door(id, "door-"+id, t0, false))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rd := readings[i%len(readings)]
		rd.TS = t0.Add(time.Duration(i) * time.Millisecond)
		if rd.TotalLiters != nil {
			v := float64(i)
			rd.TotalLiters = &v
		}
		r.Reading(rd)
		if i%100000 == 99999 {
			if err := r.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/store"
)

func TestReadingHours(t *testing.T) {
	ctx := context.Background()
	hour := t0.Truncate(time.Hour)

	t.Run("AddsUp", func(t *testing.T) {
		db := newDB(t)
		add := []history.HouseholdHour{
			{HouseholdID: "h1", Hour: history.Hour{Hour: hour, WaterLiters: 1.5, MotionEvents: 2, DoorOpenings: 1, PowerKWh: 0.25}},
			{HouseholdID: "h2", Hour: history.Hour{Hour: hour, WaterLiters: 9}},
		}
		must(t, db.AddReadingHours(ctx, add, nil))
		must(t, db.AddReadingHours(ctx, add[:1], nil))
		must(t, db.AddReadingHours(ctx, []history.HouseholdHour{{HouseholdID: "h1", Hour: history.Hour{Hour: hour.Add(time.Hour), MotionEvents: 1}}}, nil))
		got, err := db.ReadingHours(ctx, "h1", hour, hour.Add(2*time.Hour))
		must(t, err)
		want := []history.Hour{
			{Hour: hour, WaterLiters: 3, MotionEvents: 4, DoorOpenings: 2, PowerKWh: 0.5},
			{Hour: hour.Add(time.Hour), MotionEvents: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("hour %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		// [from, to): the second hour is outside.
		got, err = db.ReadingHours(ctx, "h1", hour, hour.Add(time.Hour))
		must(t, err)
		if len(got) != 1 {
			t.Errorf("one hour asked, got %+v", got)
		}
	})

	t.Run("MeterRegistersNeverGoBack", func(t *testing.T) {
		db := newDB(t)
		reg := func(at time.Time, v float64) history.MeterRegister {
			return history.MeterRegister{DeviceID: "wm1", HouseholdID: "h1", Field: history.FieldTotalLiters, Meter: history.Meter{At: at, Value: v}}
		}
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg(t0, 100)}))
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg(t0.Add(-time.Minute), 90)}))
		_, got, err := db.HouseholdReadings(ctx, "h1")
		must(t, err)
		if len(got) != 1 || got[0].Value != 100 || !got[0].At.Equal(t0) {
			t.Fatalf("after an older register: %+v, want 100 at %s", got, t0)
		}
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg(t0.Add(time.Minute), 120)}))
		_, got, err = db.HouseholdReadings(ctx, "h1")
		must(t, err)
		if len(got) != 1 || got[0].Value != 120 || got[0].HouseholdID != "h1" || got[0].Field != history.FieldTotalLiters {
			t.Fatalf("after a newer register: %+v", got)
		}
	})

	// A meter moved to another household takes its register along, unless
	// the reading is older than the one saved.
	t.Run("MeterRegisterMovesHousehold", func(t *testing.T) {
		db := newDB(t)
		reg := func(household string, at time.Time, v float64) history.MeterRegister {
			return history.MeterRegister{DeviceID: "wm1", HouseholdID: household, Field: history.FieldTotalLiters, Meter: history.Meter{At: at, Value: v}}
		}
		registers := func(household string) []history.MeterRegister {
			t.Helper()
			_, got, err := db.HouseholdReadings(ctx, household)
			must(t, err)
			return got
		}
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg("h1", t0, 100)}))
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg("h2", t0.Add(-time.Minute), 5)}))
		if got := registers("h1"); len(got) != 1 || got[0].Value != 100 {
			t.Fatalf("h1 after an older reading in h2: %+v, want 100 kept", got)
		}
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg("h2", t0.Add(time.Minute), 7)}))
		if got := registers("h1"); len(got) != 0 {
			t.Errorf("h1 after the meter moved: %+v, want none", got)
		}
		if got := registers("h2"); len(got) != 1 || got[0].Value != 7 || !got[0].At.Equal(t0.Add(time.Minute)) {
			t.Errorf("h2 after the meter moved: %+v, want 7", got)
		}
	})

	// A flush of many rows, written several to a statement: a meter moved
	// and one with an older reading among them are each decided as alone,
	// a meter and an hour twice in the batch come out as one after the
	// other.
	t.Run("ManyInOneBatch", func(t *testing.T) {
		db := newDB(t)
		reg := func(device, household string, at time.Time, v float64) history.MeterRegister {
			return history.MeterRegister{DeviceID: device, HouseholdID: household, Field: history.FieldTotalLiters, Meter: history.Meter{At: at, Value: v}}
		}
		must(t, db.AddReadingHours(ctx, nil, []history.MeterRegister{reg("moved", "h1", t0, 1), reg("older", "h1", t0, 2)}))
		var meters []history.MeterRegister
		var hours []history.HouseholdHour
		for i := range 100 {
			meters = append(meters, reg(fmt.Sprintf("wm%03d", i), "h3", t0, float64(i)))
			hours = append(hours, history.HouseholdHour{HouseholdID: fmt.Sprintf("h%03d", i), Hour: history.Hour{Hour: hour, MotionEvents: 1}})
		}
		meters = slices.Insert(meters, 10, reg("moved", "h2", t0.Add(time.Minute), 10), reg("older", "h1", t0.Add(-time.Minute), 20))
		meters = slices.Insert(meters, 30, reg("wm020", "h3", t0.Add(time.Minute), 200))
		hours = slices.Insert(hours, 40, history.HouseholdHour{HouseholdID: "h030", Hour: history.Hour{Hour: hour, MotionEvents: 2}})
		must(t, db.AddReadingHours(ctx, hours, meters))
		byDevice := map[string]history.MeterRegister{}
		for _, h := range []string{"h1", "h2", "h3"} {
			_, got, err := db.HouseholdReadings(ctx, h)
			must(t, err)
			for _, m := range got {
				byDevice[m.DeviceID] = m
			}
		}
		for device, want := range map[string]struct {
			household string
			value     float64
		}{"moved": {"h2", 10}, "older": {"h1", 2}, "wm020": {"h3", 200}, "wm099": {"h3", 99}} {
			if got := byDevice[device]; got.HouseholdID != want.household || got.Value != want.value {
				t.Errorf("%s: %+v, want %v in %s", device, got, want.value, want.household)
			}
		}
		if len(byDevice) != 102 {
			t.Errorf("%d registers, want 102", len(byDevice))
		}
		for i := range 100 {
			h, want := fmt.Sprintf("h%03d", i), int64(1)
			if h == "h030" {
				want = 3 // its two rows added up
			}
			got, err := db.ReadingHours(ctx, h, hour, hour.Add(time.Hour))
			must(t, err)
			if len(got) != 1 || got[0].MotionEvents != want {
				t.Errorf("%s: %+v, want %d motion events", h, got, want)
			}
		}
	})

	// Also more old rows than one of SQLite's prune transactions takes.
	for _, old := range []int{1, 4501} {
		t.Run(fmt.Sprintf("Prune%d", old), func(t *testing.T) {
			db := newDB(t)
			var hours []history.HouseholdHour
			var meters []history.MeterRegister
			for i := range old {
				hours = append(hours, history.HouseholdHour{HouseholdID: fmt.Sprintf("h%d", i+1), Hour: history.Hour{Hour: hour.Add(-2 * time.Hour), MotionEvents: 1}})
				meters = append(meters, history.MeterRegister{DeviceID: fmt.Sprintf("old-%d", i), HouseholdID: "h1", Field: history.FieldTotalKWh,
					Meter: history.Meter{At: hour.Add(-90 * time.Minute), Value: 1}})
			}
			hours = append(hours, history.HouseholdHour{HouseholdID: "h1", Hour: history.Hour{Hour: hour, MotionEvents: 1}})
			meters = append(meters, history.MeterRegister{DeviceID: "new", HouseholdID: "h1", Field: history.FieldTotalKWh, Meter: history.Meter{At: hour, Value: 1}})
			must(t, db.AddReadingHours(ctx, hours, meters))
			n, err := db.PruneReadingHours(ctx, hour.Add(-time.Hour))
			must(t, err)
			if n != int64(old) {
				t.Errorf("pruned %d hours, want %d", n, old)
			}
			for _, h := range []string{"h1", fmt.Sprintf("h%d", old)} {
				want := 0
				if h == "h1" {
					want = 1 // its hour now
				}
				left, err := db.ReadingHours(ctx, h, hour.Add(-24*time.Hour), hour.Add(time.Hour))
				must(t, err)
				if len(left) != want || want == 1 && !left[0].Hour.Equal(hour) {
					t.Errorf("%s: left %+v, want the hour %s of h1 only", h, left, hour)
				}
			}
			_, regs, err := db.HouseholdReadings(ctx, "h1")
			must(t, err)
			if len(regs) != 1 || regs[0].DeviceID != "new" {
				t.Errorf("left %d registers (%+v), want new only", len(regs), regs[:min(len(regs), 2)])
			}
		})
	}
}

// Erasing a household takes its roll-up with it: both tables have a
// household_id column, which DeleteHousehold sweeps.
func TestReadingHours_Erased(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	hour := t0.Truncate(time.Hour)
	must(t, db.AddReadingHours(ctx,
		[]history.HouseholdHour{{HouseholdID: "h1", Hour: history.Hour{Hour: hour, WaterLiters: 5}}},
		[]history.MeterRegister{{DeviceID: "wm1", HouseholdID: "h1", Field: history.FieldTotalLiters, Meter: history.Meter{At: t0, Value: 5}}}))
	if _, err := db.DeleteHousehold(ctx, "h1", t0, "admin"); err != nil {
		t.Fatal(err)
	}
	hours, err := db.ReadingHours(ctx, "h1", hour, hour.Add(time.Hour))
	must(t, err)
	_, regs, err := db.HouseholdReadings(ctx, "h1")
	must(t, err)
	if len(hours) != 0 || len(regs) != 0 {
		t.Errorf("after erasure: hours %+v, registers %+v; want none", hours, regs)
	}
}

// DeleteReadingHours deletes one household's hours and registers, and only
// those: the roll-up's second deletion after an erasure.
func TestDeleteReadingHours(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	hour := t0.Truncate(time.Hour)
	for _, h := range []string{"h1", "h2"} {
		must(t, db.AddReadingHours(ctx,
			[]history.HouseholdHour{{HouseholdID: h, Hour: history.Hour{Hour: hour, WaterLiters: 5}}},
			[]history.MeterRegister{{DeviceID: "wm-" + h, HouseholdID: h, Field: history.FieldTotalLiters, Meter: history.Meter{At: t0, Value: 5}}}))
	}
	must(t, db.DeleteReadingHours(ctx, "h1"))
	must(t, db.DeleteReadingHours(ctx, "h1")) // nothing left: no error
	for h, want := range map[string]int{"h1": 0, "h2": 1} {
		hours, regs, err := db.HouseholdReadings(ctx, h)
		must(t, err)
		if len(hours) != want || len(regs) != want {
			t.Errorf("%s: hours %+v, registers %+v; want %d of each", h, hours, regs, want)
		}
	}
}

// BenchmarkAddReadingHours: one of the readings roll-up's flushes, 128
// households' hours and 128 meters' registers (as history.flushChunk
// writes them), among 102,400 households' saved, on either backend. The
// meters' ids either begin with their household's, as the simulator's do,
// or are serial numbers, in no order of their households. Run with
// go test -run=^$ -bench=BenchmarkAddReadingHours ./store/
// (ELDERSAFE_TEST_POSTGRES_URL set: on PostgreSQL too).
func BenchmarkAddReadingHours(b *testing.B) {
	const chunk = 128
	const households = 800 * chunk
	ids := map[string]func(household string, i int) string{
		"household's": func(household string, _ int) string { return household + "-wm" },
		// A multiplier odd to 2^32 takes the households' order apart.
		"serial": func(_ string, i int) string { return fmt.Sprintf("SN%08X", uint32(i)*2654435761) },
	}
	for _, name := range []string{"household's", "serial"} {
		b.Run("ids="+name, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.OpenForTest(b, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			hour := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			hours := make([]history.HouseholdHour, households)
			meters := make([]history.MeterRegister, households)
			for i := range households {
				id := fmt.Sprintf("h%07d", i)
				hours[i] = history.HouseholdHour{HouseholdID: id, Hour: history.Hour{Hour: hour, WaterLiters: 1, MotionEvents: 1}}
				meters[i] = history.MeterRegister{DeviceID: ids[name](id, i), HouseholdID: id, Field: history.FieldTotalLiters, Meter: history.Meter{At: hour, Value: 1}}
			}
			for from := 0; from < households; from += chunk {
				if err := db.AddReadingHours(ctx, hours[from:from+chunk], meters[from:from+chunk]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// The next chunk of households, in order, as a flush writes
				// them; each meter a minute later than its last reading.
				from := i * chunk % households
				for j := from; j < from+chunk; j++ {
					meters[j].At = meters[j].At.Add(time.Minute)
				}
				if err := db.AddReadingHours(ctx, hours[from:from+chunk], meters[from:from+chunk]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*chunk), "ns/row")
		})
	}
}

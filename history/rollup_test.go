package history_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/testkit"
)

func ptr[T any](v T) *T { return &v }

func water(household, device string, at time.Time, liters float64) rules.Reading {
	return rules.Reading{HouseholdID: household, DeviceID: device, Kind: registry.WaterMeter, Stream: rules.Telemetry, TS: at, TotalLiters: ptr(liters)}
}

func power(household, device string, at time.Time, kwh float64) rules.Reading {
	return rules.Reading{HouseholdID: household, DeviceID: device, Kind: registry.PowerMeter, Stream: rules.Telemetry, TS: at, TotalKWh: ptr(kwh)}
}

func motion(household, device string, at time.Time, moved bool) rules.Reading {
	return rules.Reading{HouseholdID: household, DeviceID: device, Kind: registry.MotionSensor, Stream: rules.Event, TS: at, Motion: ptr(moved)}
}

func door(household, device string, at time.Time, open bool) rules.Reading {
	return rules.Reading{HouseholdID: household, DeviceID: device, Kind: registry.DoorSensor, Stream: rules.Event, TS: at, Open: ptr(open)}
}

func openStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newRollup(t *testing.T, st history.RollupStore, now func() time.Time, reg prometheus.Registerer) *history.Rollup {
	t.Helper()
	if now == nil {
		now = func() time.Time { return t0.Add(3 * time.Hour) }
	}
	r, err := history.NewRollup(history.RollupOptions{Store: st, Clock: clock.Func(now), Registerer: reg, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadRegisters(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func chart(t *testing.T, r *history.Rollup, household string) []history.Hour {
	t.Helper()
	c, err := r.Chart(context.Background(), household, t0, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != history.SourceRollup {
		t.Errorf("source %q, want rollup", c.Source)
	}
	return c.Hours
}

func wantHours(t *testing.T, got []history.Hour, want ...history.Hour) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hours %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if !got[i].Hour.Equal(want[i].Hour) || got[i].WaterLiters != want[i].WaterLiters || got[i].MotionEvents != want[i].MotionEvents ||
			got[i].DoorOpenings != want[i].DoorOpenings || got[i].PowerKWh != want[i].PowerKWh {
			t.Errorf("hour %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRollup(t *testing.T) {
	ctx := context.Background()

	t.Run("Chart", func(t *testing.T) {
		r := newRollup(t, openStore(t, t.TempDir()), nil, nil)
		for _, rd := range []rules.Reading{
			water("h1", "wm1", t0.Add(5*time.Minute), 1000), // first reading: the starting point
			water("h1", "wm1", t0.Add(20*time.Minute), 1012.5),
			water("h1", "wm2", t0.Add(30*time.Minute), 50), // a second meter
			water("h1", "wm2", t0.Add(70*time.Minute), 53),
			water("h1", "wm1", t0.Add(80*time.Minute), 1020),
			water("h1", "wm1", t0.Add(10*time.Minute), 1005), // late: ignored
			motion("h1", "pir1", t0.Add(10*time.Minute), true),
			motion("h1", "pir1", t0.Add(11*time.Minute), false),
			motion("h1", "pir2", t0.Add(12*time.Minute), true),
			door("h1", "door1", t0.Add(130*time.Minute), true),
			door("h1", "door1", t0.Add(131*time.Minute), false),
			power("h1", "pm1", t0.Add(time.Minute), 300.1),
			power("h1", "pm1", t0.Add(150*time.Minute), 300.4),
			motion("h2", "pir9", t0.Add(10*time.Minute), true), // another household
			{HouseholdID: "h1", DeviceID: "wb1", Kind: registry.Wristband, Stream: rules.Event, TS: t0, Event: rules.EventFall},
		} {
			r.Reading(rd)
		}
		// The same chart before the sums are flushed, after, and after
		// more readings split between the store and memory.
		h1 := []history.Hour{
			{Hour: t0, WaterLiters: 12.5, MotionEvents: 2},
			{Hour: t0.Add(time.Hour), WaterLiters: 3 + 7.5},
			{Hour: t0.Add(2 * time.Hour), DoorOpenings: 1, PowerKWh: 0.3},
		}
		h2 := []history.Hour{{Hour: t0, MotionEvents: 1}, {Hour: t0.Add(time.Hour)}, {Hour: t0.Add(2 * time.Hour)}}
		wantHours(t, chart(t, r, "h1"), h1...)
		wantHours(t, chart(t, r, "h2"), h2...)
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wantHours(t, chart(t, r, "h1"), h1...)
		wantHours(t, chart(t, r, "h2"), h2...)
		r.Reading(water("h1", "wm1", t0.Add(90*time.Minute), 1021))
		h1[1].WaterLiters++
		wantHours(t, chart(t, r, "h1"), h1...)
	})

	t.Run("MetersSurviveARestart", func(t *testing.T) {
		dir := t.TempDir()
		db := openStore(t, dir)
		r := newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0, 100))
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// A new roll-up on the same store, as after a restart.
		r = newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0.Add(time.Hour+time.Minute), 104))
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wantHours(t, chart(t, r, "h1"),
			history.Hour{Hour: t0}, history.Hour{Hour: t0.Add(time.Hour), WaterLiters: 4}, history.Hour{Hour: t0.Add(2 * time.Hour)})
	})

	// The monitor takes messages before the registers are in (Hold): what
	// comes meanwhile counts from them once they are, and an erasure
	// meanwhile erases what they hold of the household too.
	t.Run("HeldWhileRegistersLoad", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0, 100))
		r.Reading(water("h2", "wm2", t0, 500))
		must(t, r.Flush(ctx))

		r, err := history.NewRollup(history.RollupOptions{Store: db, Clock: clock.Func(func() time.Time { return t0.Add(3 * time.Hour) })})
		must(t, err)
		r.Hold()
		r.Reading(water("h1", "wm1", t0.Add(time.Hour+time.Minute), 104))
		r.Reading(motion("h1", "pir1", t0.Add(time.Hour+2*time.Minute), true))
		r.Reading(water("h2", "wm2", t0.Add(time.Hour+time.Minute), 507))
		must(t, r.Forget(ctx, "h2"))
		if got := chart(t, r, "h1"); got[1].WaterLiters != 0 || got[1].MotionEvents != 0 {
			t.Errorf("before the registers are in: %+v, want nothing yet", got[1])
		}
		must(t, r.LoadRegisters(ctx))
		wantHours(t, chart(t, r, "h1"),
			history.Hour{Hour: t0}, history.Hour{Hour: t0.Add(time.Hour), WaterLiters: 4, MotionEvents: 1}, history.Hour{Hour: t0.Add(2 * time.Hour)})
		// Applied as they come now.
		r.Reading(water("h1", "wm1", t0.Add(2*time.Hour+time.Minute), 105))
		must(t, r.Flush(ctx))
		wantHours(t, chart(t, r, "h1"),
			history.Hour{Hour: t0}, history.Hour{Hour: t0.Add(time.Hour), WaterLiters: 4, MotionEvents: 1}, history.Hour{Hour: t0.Add(2 * time.Hour), WaterLiters: 1})
		// h2's register, loaded after its erasure, is gone; a meter that
		// comes back starts again.
		r.Reading(water("h2", "wm2", t0.Add(2*time.Hour), 510))
		wantHours(t, chart(t, r, "h2"), history.Hour{Hour: t0}, history.Hour{Hour: t0.Add(time.Hour)}, history.Hour{Hour: t0.Add(2 * time.Hour)})
	})

	t.Run("FailedFlushIsRetried", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		st := &flakyStore{RollupStore: db}
		reg := prometheus.NewRegistry()
		r := newRollup(t, st, nil, reg)
		r.Reading(motion("h1", "pir1", t0, true))
		r.Reading(water("h1", "wm1", t0, 100)) // read only before the failure
		r.Reading(water("h1", "wm2", t0, 50))  // and again after it
		st.fail.Store(true)
		if err := r.Flush(ctx); err == nil {
			t.Fatal("Flush succeeded on a failing store")
		}
		if n := testkit.MetricValue(t, reg, "eldersafe_rollup_write_errors_total"); n != 1 {
			t.Errorf("eldersafe_rollup_write_errors_total = %g, want 1", n)
		}
		r.Reading(motion("h1", "pir1", t0.Add(time.Minute), true))
		r.Reading(water("h1", "wm2", t0.Add(time.Minute), 51))
		st.fail.Store(false)
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := chart(t, r, "h1"); got[0].MotionEvents != 2 {
			t.Errorf("after the retry: %+v, want 2 motion events in the first hour", got[0])
		}
		_, regs, err := db.HouseholdReadings(ctx, "h1")
		must(t, err)
		got := map[string]float64{}
		for _, m := range regs {
			got[m.DeviceID] = m.Value
		}
		if len(got) != 2 || got["wm1"] != 100 || got["wm2"] != 51 {
			t.Errorf("registers after the retry: %+v, want wm1 at 100 and wm2 at 51", regs)
		}
	})

	// A large flush is written in several transactions, each household's
	// sums with its meters' registers. When one fails, those before it
	// stay written and the rest wait for the next flush: each reading is
	// counted once.
	t.Run("FlushInChunks", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		st := &chunkStore{RollupStore: db, failCall: 2}
		r := newRollup(t, st, nil, nil)
		const households = 1500 // an hour and two registers each: 4,500 rows
		id := func(i int) string { return fmt.Sprintf("h%04d", i) }
		for i := range households {
			r.Reading(water(id(i), id(i)+"-wm", t0, 100))
			r.Reading(water(id(i), id(i)+"-wm", t0.Add(time.Minute), 103))
			r.Reading(power(id(i), id(i)+"-pm", t0, 7))
		}
		if err := r.Flush(ctx); err == nil {
			t.Fatal("Flush succeeded with its second transaction failing")
		}
		if len(st.calls) != 2 {
			t.Fatalf("%d transactions before the failure, want 2", len(st.calls))
		}
		if n := len(st.calls[0]); n == 0 || n == households {
			t.Fatalf("the first transaction wrote %d households of %d, want some", n, households)
		}
		must(t, r.Flush(ctx))
		if len(st.calls) < 4 {
			t.Errorf("%d transactions for 4,500 rows, want them split", len(st.calls))
		}
		// Transaction 1 failed; 2 wrote what it had tried.
		seen := map[string]int{}
		for call, hs := range st.calls {
			for h := range hs {
				if prev, ok := seen[h]; ok && (prev != 1 || call != 2) {
					t.Errorf("household %s in transactions %d and %d", h, prev, call)
				}
				seen[h] = call
			}
		}
		for i := range households {
			hours, regs, err := db.HouseholdReadings(ctx, id(i))
			must(t, err)
			if len(hours) != 1 || hours[0].WaterLiters != 3 || len(regs) != 2 {
				t.Fatalf("household %s: hours %+v, registers %+v; want 3 litres once and two registers", id(i), hours, regs)
			}
		}
	})

	t.Run("RunFlushesAndStops", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		r.Reading(door("h1", "door1", t0, true))
		deadline := time.Now().Add(5 * time.Second)
		for chart(t, r, "h1")[0].DoorOpenings != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the periodic flush never wrote the door opening")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// What comes just before the stop is written by the last flush.
		r.Reading(door("h1", "door1", t0.Add(time.Minute), true))
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := chart(t, r, "h1")[0].DoorOpenings; got != 2 {
			t.Errorf("after Run stopped: %d door openings, want 2", got)
		}
	})

	// A burst is written once FlushAt sums wait, not at the next tick; a
	// failing store is then tried again at the tick only.
	t.Run("FlushAt", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		st := &flakyStore{RollupStore: db}
		r, err := history.NewRollup(history.RollupOptions{Store: st, Clock: clock.Func(func() time.Time { return t0 }), FlushInterval: time.Hour, FlushAt: 3})
		must(t, err)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		r.Reading(motion("h1", "pir1", t0, true))
		r.Reading(water("h2", "wm2", t0, 10))
		r.Reading(door("h3", "door3", t0, true)) // the third: h1's and h3's hours and wm2's register
		deadline := time.Now().Add(5 * time.Second)
		for {
			hours, err := db.ReadingHours(ctx, "h3", t0, t0.Add(time.Hour))
			must(t, err)
			if len(hours) == 1 && hours[0].DoorOpenings == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("three sums waiting were not written before the tick")
			}
			time.Sleep(5 * time.Millisecond)
		}
		st.fail.Store(true)
		before := st.calls.Load()
		for i := range 50 {
			r.Reading(motion(fmt.Sprint("h", i), "pir", t0.Add(time.Minute), true))
		}
		for st.calls.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("fifty sums waiting were not written before the tick")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := range 50 {
			r.Reading(motion(fmt.Sprint("h", i), "pir", t0.Add(2*time.Minute), true))
		}
		cancel()
		// Its last flush fails too: logged, the stop goes on.
		if err := <-done; err != nil {
			t.Errorf("Run stopping with its last flush failed: %v, want nil", err)
		}
		if got := st.calls.Load() - before; got != 2 {
			t.Errorf("%d writes on a failing store, want 2: one for the burst, the last at the stop", got)
		}
	})

	// With many meters known, a flush waits for an eighth of them, more
	// than FlushAt: larger flushes, whose neighbours share pages.
	t.Run("FlushAtAnEighthOfTheMeters", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		var saved []history.MeterRegister
		for i := range 80 {
			saved = append(saved, history.MeterRegister{DeviceID: fmt.Sprint("wm", i), HouseholdID: fmt.Sprint("k", i),
				Field: history.FieldTotalLiters, Meter: history.Meter{At: t0, Value: 1}})
		}
		must(t, db.AddReadingHours(ctx, nil, saved))
		st := &flakyStore{RollupStore: db}
		r, err := history.NewRollup(history.RollupOptions{Store: st, Clock: clock.Func(func() time.Time { return t0 }), FlushInterval: time.Hour, FlushAt: 3})
		must(t, err)
		must(t, r.LoadRegisters(ctx))
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		for i := range 9 {
			r.Reading(motion(fmt.Sprint("h", i), "pir", t0, true))
		}
		time.Sleep(50 * time.Millisecond)
		if got := st.calls.Load(); got != 0 {
			t.Errorf("%d writes with 9 sums waiting and 80 meters known, want none before the tenth", got)
		}
		r.Reading(motion("h9", "pir", t0, true))
		deadline := time.Now().Add(5 * time.Second)
		for st.calls.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("ten sums waiting, an eighth of 80 meters, were not written before the tick")
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		must(t, <-done)
	})

	// A household erased while a flush is under way is dropped from what
	// the flush has not written yet, and what the transaction being written
	// wrote of it is deleted once that is done; a chart between two of the
	// flush's transactions counts what it has not written.
	t.Run("ForgetDuringAFlush", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		st := &gatedStore{RollupStore: db, entered: make(chan struct{}), release: make(chan struct{})}
		r, err := history.NewRollup(history.RollupOptions{Store: st, Clock: clock.Func(func() time.Time { return t0 }), FlushInterval: time.Hour})
		must(t, err)
		must(t, r.LoadRegisters(ctx))
		r.Reading(water("h0000", "wm", t0, 100))
		r.Reading(water("h0000", "wm", t0.Add(time.Minute), 104))
		for i := range 1500 { // six transactions
			r.Reading(motion(fmt.Sprintf("h%04d", i), "pir", t0, true))
		}
		flushed := make(chan error)
		go func() { flushed <- r.Flush(ctx) }()
		<-st.entered // the first transaction, h0000's, is being written
		var forgetting sync.WaitGroup
		for _, id := range []string{"h0000", "h1499"} {
			forgetting.Go(func() {
				if err := r.Forget(ctx, id); err != nil {
					t.Error(err)
				}
			})
		}
		time.Sleep(50 * time.Millisecond) // both wait for that transaction
		charted := make(chan history.Chart)
		go func() {
			c, err := r.Chart(ctx, "h1498", t0, t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			charted <- c
		}()
		time.Sleep(50 * time.Millisecond) // and the chart, after Forget
		close(st.release)
		forgetting.Wait()
		if c := <-charted; len(c.Hours) != 1 || c.Hours[0].MotionEvents != 1 {
			t.Errorf("h1498 charted during the flush: %+v, want 1 motion event", c.Hours)
		}
		must(t, <-flushed)
		hours, err := db.ReadingHours(ctx, "h1499", t0, t0.Add(time.Hour))
		must(t, err)
		if len(hours) != 0 {
			t.Errorf("h1499, forgotten during the flush: stored %+v, want nothing", hours)
		}
		hours, regs, err := db.HouseholdReadings(ctx, "h0000")
		must(t, err)
		if len(hours) != 0 || len(regs) != 0 {
			t.Errorf("h0000, forgotten while its transaction was written: stored hours %+v, registers %+v; want none", hours, regs)
		}
		if got := chart(t, r, "h1498")[0].MotionEvents; got != 1 {
			t.Errorf("h1498 after the flush: %d motion events, want 1", got)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		now := t0.Add(history.DefaultRollupRetention + 90*time.Minute)
		must(t, db.AddReadingHours(ctx, []history.HouseholdHour{
			{HouseholdID: "h1", Hour: history.Hour{Hour: t0, MotionEvents: 1}},                    // older than 31 days
			{HouseholdID: "h1", Hour: history.Hour{Hour: t0.Add(2 * time.Hour), MotionEvents: 1}}, // within
		}, nil))
		var clock atomic.Pointer[time.Time]
		clock.Store(&time.Time{}) // the event clock has not started: nothing is pruned
		r := newRollup(t, db, func() time.Time { return *clock.Load() }, nil)
		runFor(t, r)
		hours, err := db.ReadingHours(ctx, "h1", t0, now)
		must(t, err)
		if len(hours) != 2 {
			t.Fatalf("pruned before the clock started: %+v", hours)
		}
		clock.Store(&now)
		runFor(t, r)
		hours, err = db.ReadingHours(ctx, "h1", t0, now)
		must(t, err)
		if len(hours) != 1 || !hours[0].Hour.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("after pruning at %s: %+v, want only %s", now, hours, t0.Add(2*time.Hour))
		}
	})

	t.Run("Forget", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0, 100))
		r.Reading(motion("h1", "pir1", t0, true))
		must(t, r.Forget(ctx, "h1"))
		must(t, r.Flush(ctx))
		_, regs, err := db.HouseholdReadings(ctx, "h1")
		must(t, err)
		if got := chart(t, r, "h1"); got[0].MotionEvents != 0 || len(regs) != 0 {
			t.Errorf("after Forget: chart %+v, registers %+v; want nothing", got[0], regs)
		}
	})

	// A forgotten meter's place goes to the next new one; the others keep
	// counting from their registers.
	t.Run("ForgetThenNewMeters", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0, 100))
		r.Reading(power("h2", "pm2", t0, 7))
		must(t, r.Forget(ctx, "h1"))
		r.Reading(water("h3", "wm3", t0, 40))
		r.Reading(water("h3", "wm3", t0.Add(time.Minute), 42))
		r.Reading(power("h2", "pm2", t0.Add(time.Minute), 7.5))
		must(t, r.Flush(ctx))
		wantHours(t, chart(t, r, "h3"), history.Hour{Hour: t0, WaterLiters: 2}, history.Hour{Hour: t0.Add(time.Hour)}, history.Hour{Hour: t0.Add(2 * time.Hour)})
		wantHours(t, chart(t, r, "h2"), history.Hour{Hour: t0, PowerKWh: 0.5}, history.Hour{Hour: t0.Add(time.Hour)}, history.Hour{Hour: t0.Add(2 * time.Hour)})
		for household, want := range map[string]history.MeterRegister{
			"h2": {DeviceID: "pm2", HouseholdID: "h2", Field: history.FieldTotalKWh, Meter: history.Meter{At: t0.Add(time.Minute), Value: 7.5}},
			"h3": {DeviceID: "wm3", HouseholdID: "h3", Field: history.FieldTotalLiters, Meter: history.Meter{At: t0.Add(time.Minute), Value: 42}},
		} {
			_, regs, err := db.HouseholdReadings(ctx, household)
			must(t, err)
			if len(regs) != 1 || regs[0].DeviceID != want.DeviceID || regs[0].HouseholdID != want.HouseholdID ||
				regs[0].Field != want.Field || regs[0].Value != want.Value || !regs[0].At.Equal(want.At) {
				t.Errorf("registers of %s: %+v, want %+v", household, regs, want)
			}
		}
	})

	// A register is saved under the household of its meter's last reading.
	t.Run("MeterMovesHousehold", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		r.Reading(water("h1", "wm1", t0, 100))
		r.Reading(water("h2", "wm1", t0.Add(time.Minute), 103))
		must(t, r.Flush(ctx))
		for household, want := range map[string]int{"h1": 0, "h2": 1} {
			_, regs, err := db.HouseholdReadings(ctx, household)
			must(t, err)
			if len(regs) != want {
				t.Errorf("registers of %s: %+v, want %d", household, regs, want)
			}
		}
	})

	t.Run("ConcurrentReadingsAndFlushes", func(t *testing.T) {
		db := openStore(t, t.TempDir())
		r := newRollup(t, db, nil, nil)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 200 {
					r.Reading(motion("h1", "pir", t0.Add(time.Duration(w*200+i)*time.Millisecond), true))
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				must(t, r.Flush(ctx))
			}
		})
		// A chart read during flushes counts each event once: never more
		// than were sent, never fewer than it counted before.
		wg.Go(func() {
			var seen int64
			for range 20 {
				c, err := r.Chart(ctx, "h1", t0, t0.Add(time.Hour))
				must(t, err)
				got := c.Hours[0].MotionEvents
				if got < seen || got > 1600 {
					t.Errorf("chart counted %d motion events after %d", got, seen)
				}
				seen = got
			}
		})
		wg.Wait()
		must(t, r.Flush(ctx))
		if got := chart(t, r, "h1")[0].MotionEvents; got != 1600 {
			t.Errorf("%d motion events, want 1600", got)
		}
	})
}

// runFor runs r briefly: long enough for its start-up prune.
func runFor(t *testing.T, r *history.Rollup) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// gatedStore holds the first write of the roll-up until release is
// closed, after saying so on entered.
type gatedStore struct {
	history.RollupStore
	entered, release chan struct{}
	once             sync.Once
}

func (s *gatedStore) AddReadingHours(ctx context.Context, hours []history.HouseholdHour, meters []history.MeterRegister) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.release
	})
	return s.RollupStore.AddReadingHours(ctx, hours, meters)
}

type flakyStore struct {
	history.RollupStore
	fail  atomic.Bool
	calls atomic.Int32
}

func (s *flakyStore) AddReadingHours(ctx context.Context, hours []history.HouseholdHour, meters []history.MeterRegister) error {
	s.calls.Add(1)
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return s.RollupStore.AddReadingHours(ctx, hours, meters)
}

// chunkStore records which households each AddReadingHours wrote, or tried
// to, and fails the failCall-th.
type chunkStore struct {
	history.RollupStore
	failCall int
	calls    []map[string]bool
}

func (s *chunkStore) AddReadingHours(ctx context.Context, hours []history.HouseholdHour, meters []history.MeterRegister) error {
	households := map[string]bool{}
	for _, h := range hours {
		households[h.HouseholdID] = true
	}
	for _, m := range meters {
		households[m.HouseholdID] = true
	}
	s.calls = append(s.calls, households)
	if len(s.calls) == s.failCall {
		return errors.New("disk full")
	}
	return s.RollupStore.AddReadingHours(ctx, hours, meters)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

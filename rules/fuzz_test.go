package rules

import (
	"testing"
	"time"
)

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"07:00-22:00", "22:00-06:00", "00:00-24:00", "7-22", "", "24:00-24:00", "23:59-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			return
		}
		if w.length() <= 0 || w.length() > 1440 {
			t.Fatalf("%q parsed to %v of length %d", s, w, w.length())
		}
		back, err := ParseWindow(w.String())
		if err != nil || back != w {
			t.Fatalf("%q → %v → %q → %v, %v", s, w, w.String(), back, err)
		}
		due := w.after(t0, 6*time.Hour, shanghai)
		if due.Before(t0.Add(6*time.Hour)) || due.After(t0.Add(6*24*time.Hour+24*time.Hour)) {
			t.Fatalf("6h of %v from %v is due at %v", w, t0, due)
		}
	})
}

// FuzzRestore feeds saved states, as a damaged store might hold them: they
// are refused or restored, never a panic, and a restored household runs.
func FuzzRestore(f *testing.F) {
	e := newEngine(f)
	run(e, steps(read(pir(0), door(0), power(0, 5), band(0, EventFall)), every(0, 13*h, 15*m, unchanged(100))))
	if err := e.Checkpoint(func(b []State, _ bool) error {
		for _, st := range b {
			f.Add(st.Data)
		}
		return nil
	}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"v":1,"devices":[{"id":"x","kind":"bogus","last_alive":-5}]}`))
	f.Add([]byte(`{"v":1,"firing":255,"last_use":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEngine(t)
		if err := e.Restore(State{HouseholdID: "h1", Data: data}, t0); err != nil {
			return
		}
		run(e, steps(read(meter(time.Hour, 1), pir(time.Hour)), ticks(0, 100*h, 7*h)))
		e.Status("h1", t0)
	})
}

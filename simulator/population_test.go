package simulator

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// population is a scenario of n households living as a population for days.
func population(t *testing.T, n, days int, seed uint64) *World {
	t.Helper()
	sc := NewScenario(n)
	sc.Population, sc.Seed = true, seed
	sc.Duration = time.Duration(days) * 24 * time.Hour
	w, err := NewWorld(sc, "eldersafe/v1", "sim-")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPopulationSameSeedSameLife(t *testing.T) {
	lives := func(seed uint64) ([]string, [][]incident) {
		w := population(t, 300, 30, seed)
		var all [][]incident
		for _, h := range w.households {
			all = append(all, slices.Clone(h.incidents))
		}
		var truth []string
		for _, tr := range w.Truth() {
			truth = append(truth, fmt.Sprintf("%s %s %v %s %s", tr.HouseholdID, tr.Kind, tr.Visit, tr.Start.UTC(), tr.End.UTC()))
		}
		return truth, all
	}
	t1, i1 := lives(5)
	t2, i2 := lives(5)
	if !slices.Equal(t1, t2) {
		t.Fatal("two populations with seed 5 have different truths")
	}
	for h := range i1 {
		if !slices.Equal(i1[h], i2[h]) {
			t.Fatalf("household %d lives differently with the same seed", h)
		}
	}
	if len(t1) == 0 {
		t.Fatal("300 households lived a month without an incident or a fault")
	}
	if t3, _ := lives(6); slices.Equal(t1, t3) {
		t.Error("seeds 5 and 6 gave the same truth")
	}
}

// TestPopulationRates counts what 2,000 households live through in 30 days
// and checks each count against its rate, within four standard deviations
// of a Poisson count.
func TestPopulationRates(t *testing.T) {
	const households, days = 2000, 30
	w := population(t, households, days, 1)
	count := map[string]float64{}
	for _, h := range w.households {
		for _, in := range h.incidents {
			key := in.truth // what really happened
			if key == "" {
				key = in.action + " (nothing wrong)"
			}
			count[key]++
		}
	}
	perDay := float64(households * days)
	worn := 1 - (forgetsBandShare*bandOffDayOften + (1-forgetsBandShare)*bandOffDaySeldom)
	// The share of taps that run tapIncident or longer: whole minutes, uniform.
	tapLong := float64(tapMaxMinutes-tapIncident/minute+1) / float64(tapMaxMinutes-tapMinMinutes+1)
	for _, c := range []struct {
		kind string
		want float64
	}{
		{ActionFall, perDay * fallsPerYear / 365 * fallDetected * worn},
		{ActionTapRunning, perDay * tapsPerYear / 365 * tapLong},
		{ActionTapRunning + " (nothing wrong)", perDay * tapsPerYear / 365 * (1 - tapLong)},
		{ActionFall + " (nothing wrong)", perDay * falseFallPerMonth / 30},
		{ActionVisitor + " (nothing wrong)", perDay * visitorPerDay},
		{ActionDeviceOffline, households * unpluggedPerMonth},
		{TruthFallUnreported, perDay * fallsPerYear / 365 * (1 - fallDetected*worn) * longLieShare},
		{ActionLeaves + " (nothing wrong)", perDay * (dayOutPerDay + weekendAwayChance/7)},
	} {
		got := count[c.kind]
		if tol := 4 * math.Sqrt(c.want); math.Abs(got-c.want) > tol+0.25*c.want {
			t.Errorf("%s: %v in %d household-days, want about %.0f", c.kind, got, households*days, c.want)
		}
	}
}

func when(t *testing.T, d time.Duration) When {
	t.Helper()
	w, err := ParseWhen(FormatDuration(d))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestPopulationActions replays households through the monitor's decoder
// and rules engine and checks what the population's own actions do.
func TestPopulationActions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		incidents []Incident
		want      []string // rules that must fire in h1
	}{
		{"a stuck water meter looks like no water use", []Incident{{At: when(t, 8*time.Hour), Household: "h1", Action: ActionSensorStuck, Device: "water_meter", For: 20 * time.Hour}},
			[]string{rules.RuleWaterNoUse}},
		{"a fall with the band on its charger reports nothing", []Incident{
			{At: when(t, 7*time.Hour), Household: "h1", Action: ActionBandOff, For: 10 * time.Hour},
			{At: when(t, 10*time.Hour), Household: "h1", Action: ActionFall}}, nil},
		{"a fall with the band worn", []Incident{{At: when(t, 34*time.Hour), Household: "h1", Action: ActionFall}},
			[]string{rules.RuleFall}},
		{"a visitor changes nothing", []Incident{{At: when(t, 15*time.Hour), Household: "h1", Action: ActionVisitor, For: 3 * time.Hour}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := NewScenario(1)
			sc.Profiles = []string{"regular"}
			sc.Duration = 48 * time.Hour
			sc.Incidents = tc.incidents
			w, err := NewWorld(sc, "eldersafe/v1", "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range replay(t, w) {
				got = append(got, a.Rule)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("fired %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLeavingOnTheWayOut: a resident who leaves for the day (or for
// hospital) while already walking out still opens the door, so the monitor
// sees the home left.
func TestLeavingOnTheWayOut(t *testing.T) {
	for _, action := range []string{ActionLeaves, ActionHospital, ActionImmobile} {
		t.Run(action, func(t *testing.T) {
			h := &household{place: hall, loc: time.UTC}
			const t0 = 1_000_000
			h.enter(t0, segment{start: t0, place: outside})
			var out []Message
			h.apply(incident{at: t0 + 23, until: t0 + 3600, action: action}, &out)
			opens := slices.ContainsFunc(h.pending, func(p pend) bool { return p.what == doorOpen })
			if want := action != ActionImmobile; opens != want {
				t.Errorf("the door opens: %v, want %v (pending %+v)", opens, want, h.pending)
			}
		})
	}
}

package simulator

import (
	"fmt"
	"slices"
	"strings"
)

// Profile is the shape of a resident's days. Clock times are minutes after
// local midnight; a bedtime past midnight is written above 1440.
//
// Every profile keeps clear of the monitor's default thresholds (see
// docs/simulator.md, "Routines and the rules"): awake at home, the resident
// moves at least every 25 minutes; water is used on waking and at every meal,
// so no gap reaches 12 h; no routine keeps water flowing through more than six
// quarter hours in a row; the door opens at least every MaxDaysIn+1 days; and
// cooking alone lifts the day's power above the 1.2 kWh floor.
type Profile struct {
	Name string
	Doc  string
	// Wake and Bed are ranges the day's times are drawn from.
	Wake, Bed [2]int
	// Lunch and Dinner are typical meal times, drawn ±20 minutes.
	Lunch, Dinner int
	// MorningOut and AfternoonOut are the chances of going out then; an
	// outing lasts a duration drawn from OutMinutes.
	MorningOut, AfternoonOut float64
	OutMinutes               [2]int
	// EarliestOut is the earliest clock time a morning outing starts.
	EarliestOut int
	// MaxDaysIn is the most whole days in a row spent without going out;
	// the next day has a morning outing whatever the draw.
	MaxDaysIn int
	// Nap is the chance of an afternoon nap of 30 to 90 minutes.
	Nap float64
	// MorningShower is the chance that the day's shower is in the morning
	// rather than the evening; Shower is the chance of one at all.
	Shower, MorningShower float64
}

// Profiles lists every resident profile, by name.
var Profiles = []Profile{
	{
		Name: "early_riser", Doc: "up at dawn, to the market before breakfast is cleared, in bed by nine",
		Wake: [2]int{5*60 + 15, 6*60 + 15}, Bed: [2]int{20*60 + 30, 21*60 + 30},
		Lunch: 11*60 + 15, Dinner: 17*60 + 15,
		MorningOut: 0.75, AfternoonOut: 0.2, OutMinutes: [2]int{45, 150}, EarliestOut: 6*60 + 30,
		MaxDaysIn: 1, Nap: 0.6, Shower: 0.7, MorningShower: 0.6,
	},
	{
		Name: "night_owl", Doc: "up mid-morning, out in the afternoon, television until past midnight",
		Wake: [2]int{8*60 + 30, 9*60 + 30}, Bed: [2]int{23*60 + 15, 24*60 + 45},
		Lunch: 12*60 + 45, Dinner: 18*60 + 45,
		MorningOut: 0.15, AfternoonOut: 0.55, OutMinutes: [2]int{45, 150}, EarliestOut: 10 * 60,
		MaxDaysIn: 1, Nap: 0.2, Shower: 0.7, MorningShower: 0.2,
	},
	{
		Name: "mostly_home", Doc: "stays in most days, with a short trip out at least every other day",
		Wake: [2]int{6*60 + 30, 7*60 + 30}, Bed: [2]int{21 * 60, 22*60 + 30},
		Lunch: 11*60 + 45, Dinner: 17*60 + 45,
		MorningOut: 0.3, AfternoonOut: 0.1, OutMinutes: [2]int{30, 90}, EarliestOut: 8*60 + 30,
		MaxDaysIn: 1, Nap: 0.7, Shower: 0.6, MorningShower: 0.4,
	},
	{
		Name: "goes_out_daily", Doc: "the park every morning, cards or the community centre most afternoons",
		Wake: [2]int{6 * 60, 7 * 60}, Bed: [2]int{21*60 + 30, 22*60 + 30},
		Lunch: 11*60 + 45, Dinner: 17*60 + 45,
		MorningOut: 0.9, AfternoonOut: 0.7, OutMinutes: [2]int{60, 180}, EarliestOut: 7*60 + 30,
		MaxDaysIn: 0, Nap: 0.3, Shower: 0.8, MorningShower: 0.5,
	},
	{
		Name: "regular", Doc: "up around seven, out for an hour or two on most days, in bed around ten",
		Wake: [2]int{6*60 + 30, 7*60 + 30}, Bed: [2]int{21*60 + 30, 22*60 + 30},
		Lunch: 11*60 + 45, Dinner: 17*60 + 45,
		MorningOut: 0.5, AfternoonOut: 0.35, OutMinutes: [2]int{45, 150}, EarliestOut: 8 * 60,
		MaxDaysIn: 1, Nap: 0.5, Shower: 0.7, MorningShower: 0.5,
	},
}

// ProfileNames lists the profiles' names in order.
func ProfileNames() []string {
	names := make([]string, len(Profiles))
	for i, p := range Profiles {
		names[i] = p.Name
	}
	return names
}

func profileIndex(name string) (int, error) {
	i := slices.IndexFunc(Profiles, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return 0, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return i, nil
}

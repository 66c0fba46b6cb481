package trust

import (
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
	"github.com/eldersafe/eldersafe/tasks"
)

// How the simulated residents and families answer a check (assumed; see
// docs/trust.md#how-checks-are-answered). Every draw is seeded from the
// run's seed, the household and the moment, so one seed answers alike.
const (
	// familyAnswers is the chance a family who does not know where the
	// resident is (a day out, a wristband on its charger) phones them and
	// answers ok in time; otherwise nobody answers and a worker is sent.
	familyAnswers = 0.5
	// familyCannotReach is the chance a family answers cannot_reach when
	// something really is wrong (they phone and nobody picks up).
	familyCannotReach = 0.5
)

// answerer decides, from the simulator's truth, how a verifying task's
// check is answered: the resident at home and wearing the wristband
// answers it; a family with the resident answers with_me until they are
// back; otherwise the family sometimes answers.
type answerer struct {
	seed  uint64
	truth []simulator.Truth
	// byHousehold indexes truth; lives are each household's everyday spans.
	byHousehold map[string][]int
	lives       map[string][]simulator.Life
}

func newAnswerer(seed uint64, truth []simulator.Truth, lives []simulator.Life) *answerer {
	a := &answerer{seed: seed, truth: truth, byHousehold: indexTruth(truth), lives: map[string][]simulator.Life{}}
	for _, l := range lives {
		a.lives[l.HouseholdID] = append(a.lives[l.HouseholdID], l)
	}
	return a
}

// life is the household's everyday span of kind covering at, if any.
func (a *answerer) life(householdID string, at time.Time, kinds ...string) (simulator.Life, bool) {
	for _, l := range a.lives[householdID] {
		if at.Before(l.Start) || !at.Before(l.End) {
			continue
		}
		for _, k := range kinds {
			if l.Kind == k {
				return l, true
			}
		}
	}
	return simulator.Life{}, false
}

// answer is the answer a verifying task t gets before until, and when; false
// when nobody answers in time.
func (a *answerer) answer(t Task, until time.Time) (time.Time, tasks.AnswerRequest, bool) {
	h := fnv.New64a()
	h.Write([]byte(t.HouseholdID))
	rng := rand.New(rand.NewPCG(a.seed, h.Sum64()^uint64(t.Raised.UnixNano())))
	after := func(lo, hi int) time.Time {
		return t.Raised.Add(time.Duration(lo+rng.IntN(hi-lo+1)) * time.Minute)
	}
	family := func(answer string) tasks.AnswerRequest {
		return tasks.AnswerRequest{By: "family", Role: tasks.ByFamily, Answer: answer}
	}
	var (
		at  time.Time
		req tasks.AnswerRequest
	)
	switch {
	case cause(a.truth, a.byHousehold, t) >= 0:
		// Something is wrong: the resident cannot answer.
		if rng.Float64() >= familyCannotReach {
			return time.Time{}, req, false
		}
		at, req = after(5, 15), family(tasks.AnswerCannotReach)
	default:
		if l, ok := a.life(t.HouseholdID, t.Raised, simulator.LifeWithFamily, simulator.LifeAwayTold); ok {
			at, req = after(2, 15), family(tasks.AnswerWithMe)
			if back := l.End; back.After(at) && back.Sub(at) <= tasks.MaxWithMe {
				req.Until = back
			}
			break
		}
		_, out := a.life(t.HouseholdID, t.Raised, simulator.LifeOut)
		_, bandOff := a.life(t.HouseholdID, t.Raised, simulator.LifeBandOff)
		if !out && !bandOff {
			at, req = after(1, 5), tasks.AnswerRequest{By: "wristband", Role: tasks.ByResident, Answer: tasks.AnswerOK}
			break
		}
		if rng.Float64() >= familyAnswers {
			return time.Time{}, req, false
		}
		at, req = after(5, 15), family(tasks.AnswerOK)
	}
	if !at.Before(until) {
		return time.Time{}, req, false
	}
	return at, req, true
}

// reason is why a worker found a false alarm, as the truth says: the
// outcome feedback's reason.
func (a *answerer) reason(t Task) string {
	switch {
	case a.hasLife(t, simulator.LifeOut, simulator.LifeWithFamily, simulator.LifeAwayTold):
		return "was_out"
	case a.hasLife(t, simulator.LifeVisitor):
		return "visitor"
	case t.Rule == "late_wake":
		return "slept_late"
	}
	for _, i := range a.byHousehold[t.HouseholdID] {
		if tr := a.truth[i]; !tr.Visit && !t.Raised.Before(tr.Start) && !t.Raised.After(tr.End.Add(Grace)) {
			return "sensor_fault"
		}
	}
	return "other"
}

// hasLife reports whether a span of one of kinds covered the time the
// task's condition built up: its last day.
func (a *answerer) hasLife(t Task, kinds ...string) bool {
	for _, l := range a.lives[t.HouseholdID] {
		if l.Start.Before(t.Raised) && l.End.After(t.Raised.Add(-24*time.Hour)) {
			for _, k := range kinds {
				if l.Kind == k {
					return true
				}
			}
		}
	}
	return false
}

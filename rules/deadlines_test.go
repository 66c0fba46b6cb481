package rules

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDeadlineHeap: entries come out earliest first, only once due, however
// they went in.
func TestDeadlineHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 7, 100, 1000} {
		var q deadlineHeap
		var dues []int64
		for range n {
			due := rng.Int64N(50)
			dues = append(dues, due)
			q.push(deadline{due: due})
		}
		slices.Sort(dues)
		var got []int64
		for now := int64(0); now <= 50; now += 10 {
			for {
				d, ok := q.popDue(now)
				if !ok {
					break
				}
				if d.due > now {
					t.Fatalf("n=%d: popped %d at %d", n, d.due, now)
				}
				got = append(got, d.due)
			}
			if q.earliest() <= now {
				t.Fatalf("n=%d: %d left due at %d", n, q.earliest(), now)
			}
		}
		if !slices.Equal(got, dues) {
			t.Errorf("n=%d: popped %v, want %v", n, got, dues)
		}
	}
}

package simulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
)

// BenchmarkWorldNext is the cost of one message of the load mode's world
// (scripts/loadrun.sh), at a size whose households fit the CPU's caches and
// at two that do not.
func BenchmarkWorldNext(b *testing.B) {
	for _, n := range []int{2_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sc := simulator.NewScenario(n)
			sc.Duration = 30 * 24 * time.Hour
			w, err := simulator.NewWorld(sc, "eldersafe/v1", "sim-")
			if err != nil {
				b.Fatal(err)
			}
			// Past the first hour, where every device's first message
			// falls.
			for range 20 * n {
				w.Next()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := w.Next(); !ok {
					b.Fatal("the world ended")
				}
			}
		})
	}
}

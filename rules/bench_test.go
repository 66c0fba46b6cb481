package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// BenchmarkProcess feeds water readings and wristband telemetry for many
// households, in event-time order, through one engine.
func BenchmarkProcess(b *testing.B) {
	for _, households := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("households=%d", households), func(b *testing.B) {
			e, err := NewEngine(DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, households)
			for i := range ids {
				ids[i] = fmt.Sprintf("h%07d", i)
			}
			battery := 80.0
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				h := ids[n%households]
				round := n / households
				ts := t0.Add(time.Duration(round) * 15 * time.Minute)
				liters := float64(round / 4)
				if n%5 == 0 {
					e.Process(Reading{DeviceID: "wb-" + h, HouseholdID: h, Kind: registry.Wristband, Stream: Telemetry, TS: ts, BatteryPct: &battery})
					continue
				}
				e.Process(Reading{DeviceID: "wm-" + h, HouseholdID: h, Kind: registry.WaterMeter, Stream: Telemetry, TS: ts, TotalLiters: &liters})
			}
		})
	}
}

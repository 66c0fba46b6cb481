package rules

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// benchHousehold is one home of the benchmark: a water meter, a PIR, an
// entrance door sensor, a wristband and a power meter.
type benchHousehold struct {
	id                        string
	water, pir, door, wb, pow string
}

func benchHouseholds(n int) []benchHousehold {
	hs := make([]benchHousehold, n)
	for i := range hs {
		id := fmt.Sprintf("hh-%07d", i)
		hs[i] = benchHousehold{id: id, water: id + "-wm", pir: id + "-pir", door: id + "-door", wb: id + "-wb", pow: id + "-pm"}
	}
	return hs
}

// benchReading is message n of a realistic mix: each household sends eight
// messages per 16 minutes of event time, cycling through water and power
// telemetry every round, motion events, hourly heartbeats of the PIR, door
// sensor and wristband, and a door opening.
func benchReading(hs []benchHousehold, n int, v *benchValues) Reading {
	i := n % len(hs)
	round := n / len(hs)
	hh := &hs[i]
	ts := t0.Add(time.Duration(round) * 2 * time.Minute)
	r := Reading{HouseholdID: hh.id, TS: ts}
	switch (round + i) % 8 {
	case 0, 4:
		v.liters = float64(round / 3)
		r.DeviceID, r.Kind, r.Stream, r.TotalLiters = hh.water, registry.WaterMeter, Telemetry, &v.liters
	case 1, 5:
		v.kwh = float64(round) / 50
		r.DeviceID, r.Kind, r.Stream, r.TotalKWh = hh.pow, registry.PowerMeter, Telemetry, &v.kwh
	case 2, 6:
		r.DeviceID, r.Kind, r.Stream, r.Motion, r.Room = hh.pir, registry.MotionSensor, Event, &v.yes, "kitchen"
	case 3:
		r.DeviceID, r.Kind, r.Stream, r.BatteryPct = hh.wb, registry.Wristband, Telemetry, &v.battery
	case 7:
		r.DeviceID, r.Kind, r.Stream = hh.door, registry.DoorSensor, Event
		if round%24 == 7 {
			r.Open = &v.yes
		} else {
			r.Open, r.BatteryPct = &v.no, &v.battery
		}
	}
	return r
}

type benchValues struct {
	liters, kwh, battery float64
	yes, no              bool
}

// spokenEngine is an engine to which every household of hs has sent
// benchReading's first eight rounds, so that each has all its devices.
func spokenEngine(b *testing.B, hs []benchHousehold) (*Engine, *benchValues) {
	b.Helper()
	e, err := NewEngine(DefaultConfig(), shanghai)
	if err != nil {
		b.Fatal(err)
	}
	v := &benchValues{battery: 80, yes: true}
	for i := range 8 * len(hs) {
		e.Process(benchReading(hs, i, v))
	}
	return e, v
}

// BenchmarkProcess measures the engine alone on the realistic mix, with the
// clock advanced as the event clock would. In order, the households come
// as the engine allocated them, with its own id strings; shuffled, they
// come in a random order with ids of their own, as a monitor's messages
// come, so that finding a household misses the processor's caches as it
// does there. Run with
// go test -run=^$ -bench=BenchmarkProcess -benchtime=5000000x ./rules/
func BenchmarkProcess(b *testing.B) {
	for _, c := range []struct {
		n        int
		shuffled bool
	}{{10_000, false}, {1_000_000, false}, {1_000_000, true}} {
		name := fmt.Sprintf("households=%d", c.n)
		if c.shuffled {
			name += "/shuffled"
		}
		b.Run(name, func(b *testing.B) {
			hs := benchHouseholds(c.n)
			e, v := spokenEngine(b, hs)
			if c.shuffled {
				hs = shuffledCopies(hs)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := benchReading(hs, 8*c.n+i, v)
				e.Process(r)
				if i%10_000 == 0 {
					e.Advance(r.TS)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// shuffledCopies is hs in a random order, each id a string of its own.
func shuffledCopies(hs []benchHousehold) []benchHousehold {
	out := make([]benchHousehold, len(hs))
	for i, j := range rand.Perm(len(hs)) {
		h := hs[j]
		out[i] = benchHousehold{id: strings.Clone(h.id), water: strings.Clone(h.water), pir: strings.Clone(h.pir),
			door: strings.Clone(h.door), wb: strings.Clone(h.wb), pow: strings.Clone(h.pow)}
	}
	return out
}

// BenchmarkStatePerHousehold measures the heap the engine keeps per household,
// device ids included. Run with
// go test -run=^$ -bench=BenchmarkStatePerHousehold -benchtime=1x ./rules/
func BenchmarkStatePerHousehold(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		hs := benchHouseholds(n)
		v := benchValues{battery: 80, yes: true}
		before := heapInUse()
		e, err := NewEngine(DefaultConfig(), shanghai)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 8 * n {
			r := benchReading(hs, i, &v)
			// The engine keeps its own copy of each id, as it does of a
			// decoded message's.
			r.HouseholdID, r.DeviceID = strings.Clone(r.HouseholdID), strings.Clone(r.DeviceID)
			e.Process(r)
		}
		e.Advance(t0.Add(24 * time.Hour))
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "B/household")
		runtime.KeepAlive(e)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkRestore measures starting from checkpoints, per household. Run with
// go test -run=^$ -bench=BenchmarkRestore ./rules/
func BenchmarkRestore(b *testing.B) {
	e, _ := spokenEngine(b, benchHouseholds(10_000))
	var saved []State
	if err := e.Checkpoint(func(batch []State, _ bool) error { saved = batch; return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N / len(saved) {
		fresh, _ := NewEngine(DefaultConfig(), shanghai)
		for _, st := range saved {
			if err := fresh.Restore(st, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, st := range saved[:b.N%len(saved)] {
		if err := e.Restore(st, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckpoint measures the engine's part of a checkpoint of every
// household at 1,000,000 (what the journal's checkpoint writes): taking the
// households changed, putting them in the order of their ids, and encoding
// their states, with nothing written. Run with
// go test -run=^$ -bench=BenchmarkCheckpoint -benchtime=3x ./rules/
func BenchmarkCheckpoint(b *testing.B) {
	const n = 1_000_000
	hs := benchHouseholds(n)
	// Changed in no order of their ids, as devices speak.
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
	e, v := spokenEngine(b, hs)
	save := func([]State, bool) error { return nil }
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range n {
			e.Process(benchReading(hs, (8+i)*n+j, v))
		}
		b.StartTimer()
		if err := e.Checkpoint(save); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/household")
}

// BenchmarkOnlineDevices measures eldersafe_devices_online, read at every
// /metrics scrape (a walk of every household until it became a counter). Run with
// go test -run=^$ -bench=BenchmarkOnlineDevices -benchtime=10x ./rules/
func BenchmarkOnlineDevices(b *testing.B) {
	const n = 100_000
	hs := benchHouseholds(n)
	e, err := NewEngine(DefaultConfig(), shanghai)
	if err != nil {
		b.Fatal(err)
	}
	v := benchValues{battery: 80, yes: true}
	var last time.Time
	for i := range 8 * n {
		r := benchReading(hs, i, &v)
		e.Process(r)
		last = r.TS
	}
	e.Advance(last)
	b.ResetTimer()
	for range b.N {
		if got := e.OnlineDevices(); got != 5*n {
			b.Fatalf("%d online, want %d", got, 5*n)
		}
	}
}

// BenchmarkConfigWith measures a household's own overrides applied to the
// global configuration, which a start does for each such household. Run with
// go test -run=^$ -bench=BenchmarkConfigWith -benchmem ./rules/
func BenchmarkConfigWith(b *testing.B) {
	global := DefaultConfig()
	own := Thresholds{RuleNoMotion: {"hours": 8.0, "window": "06:30-23:00"}, RuleWaterNoUse: {"hours": 10.0}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := global.With(own); err != nil {
			b.Fatal(err)
		}
	}
}

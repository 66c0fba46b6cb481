package influx_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/history/influx"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/testkit"
)

// fakeInfluxDB accepts every write at once and counts the lines.
func fakeInfluxDB(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var lines atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lines.Add(int64(strings.Count(string(body), "\n")))
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &lines
}

func benchReading(i int) rules.Reading {
	return rules.Reading{HouseholdID: "h-000123", DeviceID: "wm-000123", Kind: registry.WaterMeter, Stream: rules.Telemetry,
		TS: t0.Add(time.Duration(i) * time.Millisecond), TotalLiters: ptr(12345.5), FlowLPM: ptr(1.5), BatteryPct: ptr(90.0)}
}

// BenchmarkWriter_Reading is what the InfluxDB history costs an ingest
// worker: queueing one reading, from parallel goroutines, while the writer
// hands the queue to the client and the client writes to a fake InfluxDB.
// Flat out, the callers outrun the writer: written/s is the most the
// writer delivers, dropped/op the share the queue had to drop at this rate.
func BenchmarkWriter_Reading(b *testing.B) {
	srv, lines := fakeInfluxDB(b)
	reg := prometheus.NewRegistry()
	w, err := influx.New(influx.Options{URL: srv.URL, Bucket: "eldersafe/autogen", Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	readings := make([]rules.Reading, 1024)
	for i := range readings {
		readings[i] = benchReading(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w.Reading(readings[i%len(readings)])
			i++
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(lines.Load())/time.Since(start).Seconds(), "written/s")
	dropped := testkit.MetricValue(b, reg, "eldersafe_influxdb_points_dropped_total")
	b.ReportMetric(dropped/float64(b.N), "dropped/op")
	if got := lines.Load(); float64(got)+dropped != float64(b.N) {
		b.Errorf("%d lines written and %g dropped of %d", got, dropped, b.N)
	}
}

// BenchmarkWriter_Enqueue is the cost to an ingest worker while the
// writer keeps up: readings go in bursts of 5,000, and the timer stops
// while the writer empties the queue (10,000 points), so nothing is dropped.
func BenchmarkWriter_Enqueue(b *testing.B) {
	srv, _ := fakeInfluxDB(b)
	reg := prometheus.NewRegistry()
	w, err := influx.New(influx.Options{URL: srv.URL, Bucket: "eldersafe/autogen", Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r := benchReading(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w.Reading(r)
		if i%5000 == 4999 {
			b.StopTimer()
			for testkit.MetricValue(b, reg, "eldersafe_influxdb_queue_length") > 0 {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if n := testkit.MetricValue(b, reg, "eldersafe_influxdb_points_dropped_total"); n != 0 {
		b.Errorf("%g dropped", n)
	}
}

// BenchmarkAppendReading is the writer's own work per reading, off the
// ingest path: encoding it as line protocol.
func BenchmarkAppendReading(b *testing.B) {
	r := benchReading(0)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = influx.AppendReading(buf[:0], r)
	}
}

// BenchmarkClientPoint is what building a write.Point and encoding it with
// the client's line protocol encoder cost, the first version of the writer.
func BenchmarkClientPoint(b *testing.B) {
	r := benchReading(0)
	b.ReportAllocs()
	for b.Loop() {
		p := write.NewPoint("reading", map[string]string{"household_id": r.HouseholdID, "device_id": r.DeviceID, "kind": string(r.Kind)},
			map[string]any{"stream": string(r.Stream), "total_liters": *r.TotalLiters, "flow_lpm": *r.FlowLPM, "battery_pct": *r.BatteryPct}, r.TS)
		_ = write.PointToLineProtocol(p, time.Millisecond)
	}
}

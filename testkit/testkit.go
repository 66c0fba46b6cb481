// Package testkit holds what the tests of several packages share: reading a
// metric, finding the real servers ./scripts/test.sh starts, a buffer a
// component may log to while the test reads it, certificates of a test's own
// CA, and a Mosquitto of a test's own. Only tests import it.
package testkit

import (
	"bytes"
	"net/http"
	"os"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricValue is the value of the counter or gauge name, which has no labels.
func MetricValue(tb testing.TB, g prometheus.Gatherer, name string) float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	tb.Fatalf("metric %s not registered", name)
	return 0
}

// MosquittoURL is the external Mosquitto that ./scripts/test.sh starts (with
// persistence and anonymous access). Without it the test is skipped.
func MosquittoURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("ELDERSAFE_TEST_MOSQUITTO_URL")
	if u == "" {
		tb.Skip("no external broker: run ./scripts/test.sh, which starts Mosquitto and sets ELDERSAFE_TEST_MOSQUITTO_URL")
	}
	return u
}

// InfluxURL is the InfluxDB 1.8 that ./scripts/test.sh starts. Without it
// the test is skipped; with it, InfluxDB must answer.
func InfluxURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("ELDERSAFE_TEST_INFLUXDB_URL")
	if u == "" {
		tb.Skip("ELDERSAFE_TEST_INFLUXDB_URL is not set; ./scripts/test.sh starts InfluxDB 1.8 and sets it")
	}
	resp, err := http.Get(u + "/ping")
	if err != nil {
		tb.Fatalf("ELDERSAFE_TEST_INFLUXDB_URL=%s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("ELDERSAFE_TEST_INFLUXDB_URL=%s: /ping answered %s", u, resp.Status)
	}
	return u
}

// SyncBuffer is a bytes.Buffer that a component may write while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CollectorSettings returns the Go runtime's GOGC (-1 when off) and soft
// memory limit, read without setting them.
func CollectorSettings() (gcPercent int, limit int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	// Off, GOGC is -1, which the metric gives as a uint64.
	return int(int64(s[0].Value.Uint64())), int64(s[1].Value.Uint64())
}

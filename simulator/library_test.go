package simulator_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/simulator"
)

const adminToken = apptest.AdminToken

// startMonitor runs a real eldersafe monitor in process: event clock,
// embedded broker checking device credentials, every device source on,
// SQLite in a temp dir.
func startMonitor(t *testing.T) *apptest.Monitor {
	t.Helper()
	return apptest.Start(t, func(cfg *app.Config) {
		cfg.Clock, cfg.Simulation = app.ClockEvent, true
		for _, s := range []*app.SourceConfig{&cfg.Sources.Zigbee2MQTT, &cfg.Sources.Tasmota, &cfg.Sources.Wmbusmeters} {
			s.Enabled = true
		}
	})
}

// simulate runs sc against m as fast as the monitor takes it, waiting for it
// every syncEvery of simulated time (0: the default), and checks the
// expectations.
func simulate(t *testing.T, m *apptest.Monitor, sc *simulator.Scenario, syncEvery time.Duration) (simulator.Outcome, string) {
	t.Helper()
	var report strings.Builder
	out, err := simulator.Simulate(t.Context(), simulator.Config{
		Scenario: sc, MQTTURL: m.MQTTURL, APIURL: m.APIURL, Token: adminToken,
		TopicPrefix: "eldersafe/v1", IDPrefix: "sim-", Auth: simulator.AuthDevices,
		Speed: 0, Sync: true, SyncEvery: syncEvery, Provision: true, Expect: true,
		Out: &report, Logger: apptest.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatalf("simulate %s: %v", sc.File(), err)
	}
	return out, report.String()
}

// raceSubset are the scenarios run under the race detector: an alarm (and
// the wait after it), absence rules, device rules, and each way of bending
// messages.
var raceSubset = map[string]bool{
	"fall.yaml": true, "water_no_use.yaml": true, "battery_low.yaml": true,
	"duplicates.yaml": true, "out_of_order.yaml": true, "garbage.yaml": true,
}

func TestLibraryScenarios(t *testing.T) {
	for _, name := range simulator.Library() {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			// Each has a monitor of its own; much of a run is waiting for it.
			t.Parallel()
			sc, err := simulator.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Population {
				t.Skip("a population is measured, not checked: the trust package runs it")
			}
			// normal_week sends 640,000 messages through the broker over
			// 1,800 device connections: minutes of work, too slow for -short
			// and many times slower under the race detector.
			big := sc.Count*int(sc.Duration/(24*time.Hour)) > 100
			if big && (testing.Short() || simulator.RaceDetector) {
				t.Skipf("%d households for %s: skipped with -short and -race; run go test -run TestLibraryScenarios/%s ./simulator/",
					sc.Count, simulator.FormatDuration(sc.Duration), strings.TrimSuffix(name, ".yaml"))
			}
			if simulator.RaceDetector && !raceSubset[name] {
				t.Skip("the race detector makes each scenario take about a minute: it runs a subset that takes every code path; run this one without -race")
			}
			// A big scenario with nothing to time waits for the monitor every
			// simulated hour: its routines keep hours from every threshold, and
			// the hourly heartbeats that keep devices online are an hour apart,
			// so an hour's messages applied in any order cannot open a task.
			var syncEvery time.Duration
			if big {
				syncEvery = time.Hour
			}
			out, report := simulate(t, startMonitor(t), sc, syncEvery)
			t.Logf("%d messages, %d ticks in %s\n%s", out.Result.Messages, out.Result.Ticks, out.Result.Wall.Round(time.Millisecond), report)
			if !out.Report.OK() {
				t.Errorf("%s: expectations not met:\n%s", name, report)
			}
		})
	}
}

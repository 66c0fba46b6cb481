package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/testkit"
	"github.com/eldersafe/eldersafe/trust"
)

const simToken = "cmd-simulate-test-token"

// startEventMonitor runs a monitor in process under the event clock, with its
// embedded broker checking device credentials, and returns its MQTT and API
// URLs.
func startEventMonitor(t *testing.T) (mqttURL, apiURL string) {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Broker.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminToken = simToken
	cfg.Clock, cfg.Simulation = app.ClockEvent, true
	m, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return "tcp://" + m.BrokerAddr(), "http://" + m.HTTPAddr()
}

// execute runs a subcommand in process and returns its output and error.
func execute(t *testing.T, ctx context.Context, cmdArgs ...string) (string, error) {
	t.Helper()
	cmd := simulateCommand()
	if cmdArgs[0] == "demo" {
		cmd = demoCommand()
	}
	var out testkit.SyncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(cmdArgs[1:])
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestSimulateCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		monitor bool
		wantErr string // empty: success
		wantOut []string
	}{
		{"a library scenario passes", []string{"--scenario", "sos", "--expect", "--speed", "0"}, true, "",
			[]string{"ok         h3 sos: opened at 2026-03-02 16:40:00 CST", "1 expected task(s) opened in time, 0 missed, 0 unexpected"}},
		{"a wrong expectation fails", []string{"--scenario", "testdata/simulate/wrong.yaml", "--expect", "--speed", "0"}, true,
			"testdata/simulate/wrong.yaml: 1 expectation(s) missed, 1 unexpected task(s)",
			[]string{"MISSED     h2 sos: no task opened", "UNEXPECTED sim-h2 fall"}},
		{"a bad scenario is refused with its line", []string{"--scenario", "testdata/simulate/bad.yaml"}, false,
			`testdata/simulate/bad.yaml:8: unknown action "faint"`, nil},
		{"a token is required", []string{"--households", "2", "--token", ""}, false, "--token", nil},
		{"load refuses expect", []string{"--scenario", "fall", "--load", "--expect", "--token", "x"}, false, "cannot --expect", nil},
		{"a chart goes with a report", []string{"--households", "2", "--chart", "x.svg"}, false, "--chart goes with --report", nil},
		{"households overrides the scenario and drops its incident", []string{"--scenario", "battery_low", "--households", "1", "--token", "x"}, false,
			`incident names household "h2", which the run does not have`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"simulate"}, tt.args...)
			if tt.monitor {
				mqttURL, apiURL := startEventMonitor(t)
				args = append(args, "--mqtt-url", mqttURL, "--api-url", apiURL, "--token", simToken)
			}
			out, err := execute(t, t.Context(), args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v\n%s", err, out)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v; want one saying %q\n%s", err, tt.wantErr, out)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSimulateWritesCSV(t *testing.T) {
	file := filepath.Join(t.TempDir(), "neighbourhood.csv")
	if _, err := execute(t, t.Context(), "simulate", "--households", "3", "--csv", file, "--seed", "5"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The columns of POST /api/v1/import/households.
	if got := strings.Join(rows[0], ","); got != "household_id,name,address,grid_id,timezone,contact_name,contact_relation,contact_lang,contact_channels,device_id,device_kind,device_secret,device_source,device_source_topic,device_gateway_id" {
		t.Errorf("header %s", got)
	}
	if len(rows) != 1+3*9 {
		t.Fatalf("%d rows, want a header and 27 devices", len(rows))
	}
	if r := rows[1]; r[0] != "sim-h1" || r[3] != "sim-g1" || r[4] != "Asia/Shanghai" || r[8] != "log" || r[9] != "sim-h1-wm" || r[10] != "water_meter" || len(r[11]) != 32 {
		t.Errorf("first device row %q", r)
	}
}

func TestDemoServesUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := demoCommand()
	var out, logs testkit.SyncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&logs)
	cmd.SetArgs([]string{"--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0", "--speed", "0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "The simulated day is over") {
		select {
		case err := <-done:
			t.Fatalf("demo stopped by itself: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("the demo's day did not end within 2 minutes:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	text := out.String()
	for _, want := range []string{"admin token", "console      http://127.0.0.1:", "ok         h3 fall", "ok         h7 sos",
		"ok         h12 water_continuous_flow", "ok         h16 no_motion", "5 expected task(s) opened in time, 0 missed, 0 unexpected"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output does not say %q:\n%s", want, text)
		}
	}
	if !strings.Contains(logs.String(), `msg=notice`) || !strings.Contains(logs.String(), "rule=fall") {
		t.Errorf("no notice was written to the log:\n%.3000s", logs.String())
	}
	// Still serving after the day: the API answers.
	api := between(text, "API          ", "/api/v1")
	resp, err := http.Get(api + "/healthz")
	if err != nil {
		t.Fatalf("API after the simulated day: %v", err)
	}
	resp.Body.Close()

	// Each demo user logs in with the password printed.
	for _, id := range []string{"demo-operator", "demo-worker", "demo-family"} {
		password := strings.Fields(between(text, id+" ", "\n"))
		if len(password) < 2 || password[0] != "password" {
			t.Errorf("no password printed for %s:\n%s", id, text)
			continue
		}
		body := `{"id":"` + id + `","password":"` + password[1] + `"}`
		resp, err := http.Post(api+"/api/v1/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("log-in as %s: %d", id, resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo did not stop cleanly: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop within 15 s of Ctrl-C")
	}
	if after := strings.TrimPrefix(out.String(), text); !strings.Contains(after, "Shutting down...") || !strings.HasSuffix(after, "Stopped.\n") {
		t.Errorf("Ctrl-C: the demo said %q; want it to say it is shutting down, then that it stopped", after)
	}
	if dir := strings.TrimSpace(between(text, "data         ", "\n")); dir == "" {
		t.Error("demo did not print its data directory")
	} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the temporary data directory %s is still there: %v", dir, err)
	}
}

// TestDemoRefusesBadSpeed: the demo takes the speeds simulate takes.
func TestDemoRefusesBadSpeed(t *testing.T) {
	for _, speed := range []string{"-1", "NaN", "+Inf"} {
		_, err := execute(t, t.Context(), "demo", "--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0", "--speed", speed)
		if err == nil || !strings.Contains(err.Error(), "--speed") {
			t.Errorf("--speed %s: %v, want it refused", speed, err)
		}
	}
}

// TestDemoDeadlines: at 3600× a critical task waits 5 real minutes, not a
// twelfth of a second; at speed 0 or 1 nothing changes.
func TestDemoDeadlines(t *testing.T) {
	base := app.DefaultConfig().Tasks
	for _, c := range []struct {
		speed             float64
		critical, resolve time.Duration
	}{
		{0, 5 * time.Minute, 72 * time.Hour},
		{1, 5 * time.Minute, 72 * time.Hour},
		{3600, 300 * time.Hour, maxDemoDeadline}, // 72 h × 3600 is 30 years
		{1e9, maxDemoDeadline, maxDemoDeadline},
	} {
		got := demoDeadlines(base, c.speed)
		if got.AckDeadline.Critical != c.critical || got.ResolveDeadline != c.resolve {
			t.Errorf("speed %g: critical %s, resolve %s; want %s, %s", c.speed, got.AckDeadline.Critical, got.ResolveDeadline, c.critical, c.resolve)
		}
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// TestSimulateReport measures a small population through a monitor of its
// own in process: the report's JSON, its tables and its chart.
func TestSimulateReport(t *testing.T) {
	dir := t.TempDir()
	report, chart := filepath.Join(dir, "report.json"), filepath.Join(dir, "trust.svg")
	out, err := execute(t, t.Context(), "simulate", "--scenario", "population_month", "--households", "8", "--duration", "2d",
		"--seed", "4", "--report", report, "--chart", chart, "--config", filepath.Join(dir, "none.yaml"))
	if err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("a config file that does not exist: error %v, want one naming it", err)
	}
	out, err = execute(t, t.Context(), "simulate", "--scenario", "population_month", "--households", "8", "--duration", "2d",
		"--seed", "4", "--report", report, "--chart", chart)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"Population `population_month`, seed 4: 8 households, 2 days", "| **visits** |", "| **incidents** |"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables do not say %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r trust.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	if r.Households != 8 || r.Days != 2 || r.Seed != 4 || r.Messages == 0 {
		t.Errorf("report of %d households, %g days, seed %d, %d messages", r.Households, r.Days, r.Seed, r.Messages)
	}
	if got := len(r.Switches) + len(r.Unknown); got != len(trust.FixedRules) {
		t.Errorf("%d switches applied and %d unknown, want the %d of trust.FixedRules between them", len(r.Switches), len(r.Unknown), len(trust.FixedRules))
	}
	if svg, err := os.ReadFile(chart); err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("chart: %v %.40q", err, svg)
	}
}

// Package apptest runs a whole monitor in process for the tests of other
// packages (end to end, browser, simulator): free loopback ports, a data
// directory of the test's own, the embedded broker unless the config names
// another, and clients for its API and for devices.
package apptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
)

// AdminToken is the bootstrap admin token of every monitor Start runs.
const AdminToken = "apptest-admin-token"

// Monitor is a running monitor and the addresses to reach it.
type Monitor struct {
	*app.Monitor
	t testing.TB
	// MQTTURL is the broker devices publish to: the embedded one, or
	// mqtt.url when the config names another.
	MQTTURL string
	// APIURL is http://host:port of the API and console.
	APIURL string
}

// Start runs a monitor with the defaults, changed by edit (may be nil), and
// waits until it is ready; it is closed when the test ends. Warnings and
// errors it logs go to the test's log.
func Start(t testing.TB, edit func(*app.Config)) *Monitor {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Broker.Addr = "127.0.0.1:0"
	// A client id of its own per test: an external broker keeps sessions.
	cfg.MQTT.ClientID = "eldersafe-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminToken = AdminToken
	if edit != nil {
		edit(&cfg)
	}
	m, err := app.Start(context.Background(), cfg, Logger(t, slog.LevelWarn), io.Discard)
	if err != nil {
		t.Fatalf("start monitor: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close monitor: %v", err)
		}
	})
	mon := &Monitor{Monitor: m, t: t, MQTTURL: cfg.MQTT.URL, APIURL: "http://" + m.HTTPAddr()}
	if mon.MQTTURL == "" {
		mon.MQTTURL = "tcp://" + m.BrokerAddr()
	}
	Eventually(t, "monitor ready", func() bool {
		resp, err := http.Get(mon.APIURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return mon
}

// Logger logs to the test's log from level up.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Eventually polls cond until it holds, failing the test after 30 s (a
// loaded machine can be that slow; a test that passes never waits it out).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Call sends a request to the API as the admin, body as it is when a
// string and as JSON otherwise, decodes the JSON answer into out (may be
// nil) and returns the status.
func (m *Monitor) Call(method, path string, body any, out any) int {
	m.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			m.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, m.APIURL+path, r)
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			m.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// MustCall is Call that fails the test unless the status is want.
func (m *Monitor) MustCall(method, path string, body any, want int, out any) {
	m.t.Helper()
	var raw json.RawMessage
	if got := m.Call(method, path, body, &raw); got != want {
		m.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			m.t.Fatal(err)
		}
	}
}

// Public sends a request as a member of the public would, without a
// token (a family contact opening a link): GET when body is empty, else a
// JSON POST. It returns the status and the body.
func (m *Monitor) Public(path, body string) (int, string) {
	m.t.Helper()
	var (
		resp *http.Response
		err  error
	)
	if body == "" {
		resp, err = http.Get(m.APIURL + path)
	} else {
		resp, err = http.Post(m.APIURL+path, "application/json", strings.NewReader(body))
	}
	if err != nil {
		m.t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// Metric reads one sample from /metrics, e.g.
// `eldersafe_ingest_messages_total{kind="wristband",stream="event"}`; 0 when
// absent.
func (m *Monitor) Metric(name string) float64 {
	m.t.Helper()
	return Metric(m.t, m.APIURL, name)
}

// Metric reads one sample from the /metrics of the monitor at apiURL
// (http://host:port), as Monitor.Metric does: for a monitor run as a process.
func Metric(t testing.TB, apiURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(apiURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// Device connects to the broker as a device with its own credentials; it
// disconnects when the test ends.
func (m *Monitor) Device(id, secret string) mqtt.Client {
	m.t.Helper()
	// Without reconnecting: a test that connects the same device again
	// takes over its session, and the client taken over must not take it
	// back and cut the new one off.
	opts := mqtt.NewClientOptions().AddBroker(m.MQTTURL).SetClientID("dev-" + id).
		SetUsername(id).SetPassword(secret).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		m.t.Fatalf("device %s: connect: %v", id, tok.Error())
	}
	m.t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// Publish publishes payload (bytes or a string as they are, anything else as
// JSON) at QoS 1 and waits for the broker's acknowledgement.
func Publish(t testing.TB, c mqtt.Client, topic string, payload any) {
	t.Helper()
	var data []byte
	switch p := payload.(type) {
	case string:
		data = []byte(p)
	case []byte:
		data = p
	default:
		var err error
		if data, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	if tok := c.Publish(topic, 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

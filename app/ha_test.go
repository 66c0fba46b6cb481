package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/testkit"
)

// TestHA runs two monitors in process on one PostgreSQL and one Mosquitto
// (under -race in ./scripts/test.sh): the first works, the second stands by
// and refuses writes, following what the first writes; when the first
// stops it releases the lease and the second takes over and takes writes. The process-level failover, with
// SIGKILL and falls, is cmd/eldersafe's TestFailover*.
func TestHA(t *testing.T) {
	pg, broker := testkit.PostgresURL(t), testkit.MosquittoURL(t)
	tag := "ha-" + time.Now().Format("150405.000000")
	start := func() *app.Monitor {
		t.Helper()
		cfg := app.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.HTTP.Addr = "127.0.0.1:0"
		cfg.Store.URL, cfg.MQTT.URL = pg, broker
		cfg.MQTT.ClientID, cfg.MQTT.Prefix = strings.ReplaceAll(tag, ".", "-"), strings.ReplaceAll(tag, ".", "-")
		cfg.HA.Enabled, cfg.HA.LeaseTTL = true, 3*time.Second
		cfg.Auth.AdminToken = "ha-test-admin-token-0001"
		cfg.Security.Key = base64.StdEncoding.EncodeToString([]byte("ha-test-master-key-of-32-bytes!!"))
		m, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	status := func(m *app.Monitor) string {
		resp, err := http.Get("http://" + m.HTTPAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&body)
		return body.Status
	}
	waitFor := func(m *app.Monitor, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for status(m) != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz of %s: %q, want %q", m.HTTPAddr(), status(m), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	call := func(m *app.Monitor, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+m.HTTPAddr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer ha-test-admin-token-0001")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	createGrid := func(m *app.Monitor, id string) int {
		code, _ := call(m, "POST", "/api/v1/grids", `{"id":"`+id+`","name":"G"}`)
		return code
	}
	// monitoring is how well m's rules engine watches household h-ha: a
	// household it does not know is unmonitored, one whose motion sensor
	// it expects (registered now, so not yet stale) ok.
	monitoring := func(m *app.Monitor) string {
		code, body := call(m, "GET", "/api/v1/households/h-ha", "")
		var h struct{ Monitoring string }
		if err := json.Unmarshal(body, &h); code != http.StatusOK || err != nil {
			t.Fatalf("GET h-ha from %s: %d %s", m.HTTPAddr(), code, body)
		}
		return h.Monitoring
	}

	first := start()
	waitFor(first, "ready")
	second := start()
	waitFor(second, "standby")
	if code := createGrid(second, "g-standby"); code != http.StatusServiceUnavailable {
		t.Errorf("write to the standby: %d, want 503", code)
	}
	if code := createGrid(first, "g1"); code != http.StatusCreated {
		t.Errorf("write to the leader: %d, want 201", code)
	}
	// The standby follows what the leader writes: the rules engine behind
	// its reads expects a device registered after it loaded.
	for _, w := range [][2]string{
		{"/api/v1/households", `{"id":"h-ha","name":"Zhao","address":"7 Lane","grid_id":"g1"}`},
		{"/api/v1/devices", `{"id":"pir-ha","kind":"motion_sensor","household_id":"h-ha"}`},
	} {
		if code, body := call(first, "POST", w[0], w[1]); code != http.StatusCreated {
			t.Fatalf("POST %s to the leader: %d %s", w[0], code, body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for monitoring(second) != "ok" {
		if time.Now().After(deadline) {
			t.Fatalf("the standby watches h-ha as %q, want ok: it expects pir-ha", monitoring(second))
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := first.Close(); err != nil {
		t.Errorf("close the leader: %v", err)
	}
	waitFor(second, "ready")
	if code := createGrid(second, "g2"); code != http.StatusCreated {
		t.Errorf("write to the new leader: %d, want 201", code)
	}
	if got := monitoring(second); got != "ok" {
		t.Errorf("the new leader watches h-ha as %q, want ok", got)
	}
}

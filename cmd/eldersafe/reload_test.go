package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// call sends a request to a running server with the token and decodes a JSON answer into out.
func (s *server) call(t *testing.T, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, s *server, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, s.stderr(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var waterNoUseHours = regexp.MustCompile(`(water_no_use:\n(?:\s*#.*\n)*\s*hours: )\S+`)

// TestServeReloadsEditedConfig edits the config file while serve runs: a
// valid edit changes the thresholds in force, an invalid one is logged and
// changes nothing.
func TestServeReloadsEditedConfig(t *testing.T) {
	shipped, err := os.ReadFile("../../configs/eldersafe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "eldersafe.yaml")
	if err := os.WriteFile(file, shipped, 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "reload-test-token-0001"
	s := serveConfig(t, binary(t), file, t.TempDir(), "ELDERSAFE_AUTH_ADMIN_TOKEN="+token)
	if code := s.createGrid(t, token, "g1"); code != 201 {
		t.Fatalf("create grid: %d", code)
	}
	if code := s.call(t, token, "POST", "/api/v1/households", `{"id":"h1","name":"Li","address":"1 Lane","grid_id":"g1"}`, nil); code != 201 {
		t.Fatalf("create household: %d", code)
	}
	hours := func() any {
		var out struct {
			Thresholds map[string]map[string]any `json:"thresholds"`
		}
		if code := s.call(t, token, "GET", "/api/v1/households/h1", "", &out); code != 200 {
			t.Fatalf("get household: %d", code)
		}
		return out.Thresholds["water_no_use"]["hours"]
	}
	if got := hours(); got != 12.0 {
		t.Fatalf("water_no_use.hours at start = %v, want 12", got)
	}
	edit := func(value string, more ...string) {
		t.Helper()
		text := waterNoUseHours.ReplaceAllString(string(shipped), "${1}"+value)
		for i := 0; i+1 < len(more); i += 2 {
			text = strings.Replace(text, more[i], more[i+1], 1)
		}
		if text == string(shipped) {
			t.Fatal("edit changed nothing")
		}
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	edit("10", "resolve_deadline: 72h", "resolve_deadline: 48h")
	waitFor(t, s, "water_no_use.hours 10", func() bool { return hours() == 10.0 })
	waitFor(t, s, "the restart notice", func() bool {
		return strings.Contains(s.stderr(t), "changed settings take effect at the next restart") &&
			strings.Contains(s.stderr(t), "tasks.resolve_deadline")
	})
	if log := s.stderr(t); !strings.Contains(log, "rules thresholds reloaded") || !strings.Contains(log, "rules.water_no_use.hours") {
		t.Errorf("no log line of the reloaded threshold:\n%s", log)
	}

	edit("-3")
	waitFor(t, s, "the invalid edit logged", func() bool {
		log := s.stderr(t)
		return strings.Contains(log, "level=ERROR") && strings.Contains(log, "config file changed but is not valid") &&
			strings.Contains(log, "rules.water_no_use.hours: must be between 1 and 168")
	})
	if got := hours(); got != 10.0 {
		t.Errorf("water_no_use.hours after an invalid edit = %v, want 10 kept", got)
	}

	edit("not-a-number: [")
	waitFor(t, s, "the broken YAML logged", func() bool {
		return strings.Count(s.stderr(t), "config file changed but is not valid") >= 2
	})
	if got := hours(); got != 10.0 {
		t.Errorf("water_no_use.hours after broken YAML = %v, want 10 kept", got)
	}
	s.stop(t)
}

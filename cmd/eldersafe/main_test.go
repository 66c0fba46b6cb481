package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/testkit"
)

// binary builds eldersafe once for the tests of this file.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eldersafe")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestConfigCheck(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		file     string
		wantExit int
		wantOut  []string
	}{
		{"../../configs/eldersafe.yaml", 0, []string{"ok"}},
		{"testdata/bad.yaml", 1, []string{"water_no_usage", "clock: \"sundial\"", "rules.water_no_use.hours", "notify.max_attempts"}},
		{"testdata/missing.yaml", 1, []string{"missing.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := exec.Command(bin, "config", "check", tt.file).CombinedOutput()
			exit := 0
			if ee, ok := err.(*exec.ExitError); ok {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.wantExit {
				t.Errorf("exit %d, want %d:\n%s", exit, tt.wantExit, out)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(string(out), want) {
					t.Errorf("output does not name %q:\n%s", want, out)
				}
			}
		})
	}
}

// server is a running `eldersafe serve` process.
type server struct {
	addr string
	cmd  *exec.Cmd
	log  string // its stderr
}

// serve runs `eldersafe serve` on free ports, waits until it is ready, and
// returns it; stderr goes to a file the test can read.
func serve(t *testing.T, bin, dataDir string, env ...string) *server {
	t.Helper()
	return serveConfig(t, bin, "../../configs/eldersafe.yaml", dataDir, env...)
}

// serveConfig is serve with the given config file.
func serveConfig(t *testing.T, bin, configFile, dataDir string, env ...string) *server {
	t.Helper()
	return serveWith(t, bin, configFile, dataDir, nil, env...)
}

// serveWith is serve with the given config file and flags.
func serveWith(t *testing.T, bin, configFile, dataDir string, flags []string, env ...string) *server {
	t.Helper()
	s := &server{addr: testkit.FreeAddr(t), log: filepath.Join(t.TempDir(), "stderr")}
	stderr, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	s.cmd = exec.Command(bin, append([]string{"serve", "--config", configFile, "--data-dir", dataDir, "--http-addr", s.addr}, flags...)...)
	s.cmd.Env = append(os.Environ(), append([]string{"ELDERSAFE_MQTT_BROKER_ADDR=" + testkit.FreeAddr(t), "ELDERSAFE_HTTP_ADDR=127.0.0.1:1"}, env...)...)
	s.cmd.Stderr = stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Ready, or a standby (ha.enabled) while another monitor works.
		if status, err := s.readiness(); err == nil && (status == "ready" || status == "standby") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready on %s:\n%s", s.addr, s.stderr(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readiness is the status GET /readyz answers: ready, standby, degraded…
func (s *server) readiness() (string, error) {
	resp, err := http.Get("http://" + s.addr + "/readyz")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	return body.Status, nil
}

func (s *server) stderr(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var tokenLine = regexp.MustCompile(`(?m)^\s+([A-Za-z0-9_-]{32})$`)

// token is the generated admin token the server printed, if any.
func (s *server) token(t *testing.T) string {
	if m := tokenLine.FindStringSubmatch(s.stderr(t)); m != nil {
		return m[1]
	}
	return ""
}

func (s *server) createGrid(t *testing.T, token, id string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/grids", strings.NewReader(fmt.Sprintf(`{"id":%q,"name":"Grid"}`, id)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve did not exit cleanly on SIGTERM: %v\n%s", err, s.stderr(t))
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop within 15 s of SIGTERM:\n%s", s.stderr(t))
	}
	if !strings.Contains(s.stderr(t), "shutting down") {
		t.Errorf("serve did not log its shutdown:\n%s", s.stderr(t))
	}
}

func TestServeGeneratesTokenAndStopsCleanly(t *testing.T) {
	bin := binary(t)
	dataDir := t.TempDir()

	s := serve(t, bin, dataDir)
	token := s.token(t)
	if token == "" {
		t.Fatalf("serve printed no generated admin token:\n%s", s.stderr(t))
	}
	if want := "Console: http://" + s.addr + "/"; !strings.Contains(s.stderr(t), want) || !strings.Contains(s.stderr(t), "/api/v1/users") {
		t.Errorf("serve did not say %q and how to get a log-in:\n%s", want, s.stderr(t))
	}
	if code := s.createGrid(t, token, "g1"); code != 201 {
		t.Fatalf("create grid with the printed token: %d", code)
	}
	if code := s.createGrid(t, "wrong", "g2"); code != 401 {
		t.Fatalf("create grid with a wrong token: %d", code)
	}
	s.stop(t)

	// The second start keeps the token and the data, and prints no token.
	s = serve(t, bin, dataDir)
	if code := s.createGrid(t, token, "g1"); code != 409 {
		t.Fatalf("grid g1 after restart: %d, want 409 (it exists)", code)
	}
	s.stop(t)
	if strings.Contains(s.stderr(t), token) {
		t.Error("the admin token was printed again on the second start")
	}
}

func TestServeFlagBeatsEnvironment(t *testing.T) {
	// serve sets ELDERSAFE_HTTP_ADDR=127.0.0.1:1 and --http-addr to a free port:
	// being ready on the flag's address proves the precedence; the token from
	// the environment proves the environment is read.
	s := serve(t, binary(t), t.TempDir(), "ELDERSAFE_AUTH_ADMIN_TOKEN=from-env-token-0001")
	if code := s.createGrid(t, "from-env-token-0001", "g1"); code != 201 {
		t.Errorf("token from the environment refused: %d", code)
	}
	if s.token(t) != "" {
		t.Error("a token was generated although the environment set one")
	}
	s.stop(t)
}

// TestConfigCheckNamesTheVariable: a wrong value from the environment is
// blamed on its variable, not the file, and every error is printed once.
func TestConfigCheckNamesTheVariable(t *testing.T) {
	for _, c := range []struct{ env, value, want string }{
		{"ELDERSAFE_NOTIFY_MAX_ATTEMPTS", "many", "'notify.max_attempts' cannot parse value as 'int'"},
		{"ELDERSAFE_INGEST_WORKERS", "0", "ingest.workers: 0: want 1 to 1024"},
		{"ELDERSAFE_RULES_NO_MOTION_HOURS", "100", "rules.no_motion.hours: must be between 0.5 and 24 hours"},
	} {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			cmd := configCommand()
			cmd.SetArgs([]string{"check", "../../configs/eldersafe.yaml"})
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if n := strings.Count(msg, c.want); n != 1 || !strings.Contains(msg, "(from environment variable "+c.env+")") ||
				!strings.Contains(msg, "with the ELDERSAFE_* environment variables is not valid") {
				t.Errorf("error names it %d times, want once, blaming %s:\n%s", n, c.env, msg)
			}
		})
	}
}

func TestConsoleBanner(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://localhost:8080/",
		"[::]:9000":      "http://localhost:9000/",
	} {
		if got := consoleBanner(addr); !strings.Contains(got, "Console: "+want) {
			t.Errorf("%s: %q, want the console at %s", addr, got, want)
		}
	}
}

// TestConfigCheckCareLevels: a care level's thresholds are read from the
// file and checked like the rules section.
func TestConfigCheckCareLevels(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"good", "care_levels:\n  semi:\n    rules:\n      no_motion:\n        hours: 4\n    routine_visits_per_month: 6\n", ""},
		{"misspelt", "care_levels:\n  semi:\n    rules:\n      no_motion:\n        hourz: 4\n", "care_levels.semi.rules.no_motion.hourz: unknown parameter"},
		{"unknown level", "care_levels:\n  bedridden:\n    routine_visits_per_month: 6\n", "bedridden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := configCommand()
			cmd.SetArgs([]string{"check", file})
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("config check: %v, want %q", err, c.want)
			}
		})
	}
}

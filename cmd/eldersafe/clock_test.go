package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/testkit"
)

// TestServeEventClockNeedsSimulation: on the event clock any device's ts
// moves the monitor's time, so serve takes it only with --simulation, from
// the flag as from the environment or the file.
func TestServeEventClockNeedsSimulation(t *testing.T) {
	bin := binary(t)
	refused := []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--clock", "event"}, ""},
		{"environment", nil, "ELDERSAFE_CLOCK=event"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--config", "../../configs/eldersafe.yaml", "--data-dir", t.TempDir(),
				"--http-addr", testkit.FreeAddr(t), "--broker-addr", testkit.FreeAddr(t)}, tt.args...)...)
			cmd.Env = append(os.Environ(), tt.env)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "--simulation") {
				t.Errorf("serve on the event clock without --simulation: %v\n%s", err, out)
			}
		})
	}

	// With it, the monitor runs and takes ticks.
	s := &server{addr: testkit.FreeAddr(t), log: filepath.Join(t.TempDir(), "stderr")}
	stderr, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	s.cmd = exec.Command(bin, "serve", "--config", "../../configs/eldersafe.yaml", "--data-dir", t.TempDir(),
		"--http-addr", s.addr, "--broker-addr", testkit.FreeAddr(t), "--clock", "event", "--simulation")
	s.cmd.Env = append(os.Environ(), "ELDERSAFE_AUTH_ADMIN_TOKEN=simulation-token-0001")
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
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/clock", strings.NewReader(`{"ts":"2026-03-01T09:00:00Z"}`))
		req.Header.Set("Authorization", "Bearer simulation-token-0001")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("tick: %s\n%s", resp.Status, s.stderr(t))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --clock event --simulation did not answer:\n%s", s.stderr(t))
		}
	}
	s.stop(t)
}

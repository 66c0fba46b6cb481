package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

// TestSecondServeOnTheSameDataDirExits: two monitors on one store would each
// believe they alone saved the rules' state and sent the notices.
func TestSecondServeOnTheSameDataDirExits(t *testing.T) {
	bin := binary(t)
	dataDir := t.TempDir()
	first := serve(t, bin, dataDir)

	second := exec.Command(bin, "serve", "--config", "../../configs/eldersafe.yaml", "--data-dir", dataDir,
		"--http-addr", testkit.FreeAddr(t), "--broker-addr", testkit.FreeAddr(t))
	out, err := second.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second serve: %v, want exit status 1\n%s", err, out)
	}
	if want := fmt.Sprintf("data directory in use by pid %d", first.cmd.Process.Pid); !strings.Contains(string(out), want) {
		t.Errorf("second serve said:\n%s\nwant %q", out, want)
	}
	first.stop(t)
}

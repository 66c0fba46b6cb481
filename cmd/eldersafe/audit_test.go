package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/store"
)

func TestAuditVerify(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	keys, err := keyring.Load("", dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []string{"household/h1", "household/h2", "task/t1"} {
		if _, err := db.AppendAudit(context.Background(), keys.Audit, audit.Entry{At: time.Now(), Actor: "op-1", Role: "operator", Action: audit.Read, Object: obj}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	verify := func(env ...string) (int, string) {
		cmd := exec.Command(bin, "audit", "verify", "--data-dir", dir)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := verify(); code != 0 || !strings.Contains(out, "intact: 3 entries") {
		t.Fatalf("intact log: exit %d: %s", code, out)
	}
	// Another key than the one the log was sealed with (its key file): the
	// key is named, not entry 1.
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if code, out := verify("ELDERSAFE_SECURITY_KEY=" + other); code == 0 || !strings.Contains(out, "the key does not match this audit log") ||
		!strings.Contains(out, "security.key") || strings.Contains(out, "entry 1") {
		t.Fatalf("a wrong key: exit %d: %s", code, out)
	}

	raw, err := sql.Open("sqlite", filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_log SET actor = 'nobody' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(); code == 0 || !strings.Contains(out, "entry 2") || !strings.Contains(out, "altered") {
		t.Fatalf("altered log: exit %d: %s", code, out)
	}

	out, err := exec.Command(bin, "audit", "verify", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not the data directory") {
		t.Errorf("a fresh data dir: %v: %s", err, out)
	}
}

package keyring

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	first, err := Load("", dir)
	if err != nil || !first.Generated {
		t.Fatalf("first load: %+v, %v", first, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, err := Load("", dir)
	if err != nil || again.Generated || !bytes.Equal(first.Audit, again.Audit) || !bytes.Equal(first.Fields, again.Fields) {
		t.Fatalf("a second start derived other keys: %v", err)
	}
	purposes := [][]byte{first.Audit, first.Fields, first.Snapshot, first.Journal}
	for i, k := range purposes {
		if len(k) != 32 {
			t.Errorf("key %d is %d bytes, want 32", i, len(k))
		}
		for _, other := range purposes[:i] {
			if bytes.Equal(k, other) {
				t.Errorf("purposes share a key (%d)", i)
			}
		}
	}

	configured := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	fromConfig, err := Load(configured, t.TempDir())
	if err != nil || fromConfig.Generated || bytes.Equal(fromConfig.Audit, first.Audit) {
		t.Fatalf("configured key: %+v, %v", fromConfig, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other", FileName)); !os.IsNotExist(err) {
		t.Error("a configured key wrote a key file")
	}

	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := Load(bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "security.key") {
			t.Errorf("Load(%q): %v", bad, err)
		}
	}
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, FileName), []byte("garbage"), 0o600)
	if _, err := Load("", broken); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}

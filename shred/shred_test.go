package shred

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

// TestFile: the keyed bytes are overwritten where the file's blocks are
// (read through a descriptor opened before), the rest left, the file gone;
// a missing file is no error, a directory is.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sealed")
	if err := os.WriteFile(path, []byte("SALTciphertext"), 0o600); err != nil {
		t.Fatal(err)
	}
	left := testkit.LeftOnDisk(t, path, func() error { return File(path, 4) })
	if string(left) != "\x00\x00\x00\x00ciphertext" {
		t.Fatalf("left on disk %q, want the first 4 bytes zeroed and the rest as it was", left)
	}
	if err := File(path, 4); err != nil {
		t.Fatalf("shredding no file: %v", err)
	}
	if err := File(dir, 4); err == nil {
		t.Fatal("a directory shredded")
	}
}

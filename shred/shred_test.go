package shred

import (
	"bytes"
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
	left := testkit.LeftOnDisk(t, path, func() error { return File(path, Header(4)) })
	if string(left) != "\x00\x00\x00\x00ciphertext" {
		t.Fatalf("left on disk %q, want the first 4 bytes zeroed and the rest as it was", left)
	}
	if err := File(path, Header(4)); err != nil {
		t.Fatalf("shredding no file: %v", err)
	}
	if err := File(dir, Header(4)); err == nil {
		t.Fatal("a directory shredded")
	}
}

// TestOverwrite: past a block of zeros, to the byte asked, no further.
func TestOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sealed")
	size := 3*overwriteBlock + 100
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 2*overwriteBlock + 10
	if err := Overwrite(f, int64(n)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := append(make([]byte, n), bytes.Repeat([]byte{7}, size-n)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("zeros up to %d, want %d, of %d bytes", bytes.IndexByte(got, 7), n, len(got))
	}
}

// TestLeftovers: a file a process killed while shredding left under the
// shredding name is shredded in turn, and so is one that matches a pattern
// given; others are left. A directory that is not there holds none.
func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	left, write := filepath.Join(dir, "sealed"+Suffix), filepath.Join(dir, "snap.123.tmp")
	others := []string{filepath.Join(dir, "sealed"), filepath.Join(dir, "snap"), filepath.Join(dir, "other.123.tmp")}
	for _, p := range append([]string{left, write}, others...) {
		if err := os.WriteFile(p, []byte("SALTciphertext"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	shredded := func() error { return Leftovers(dir, Header(4), "snap.*.tmp") }
	both := func() error {
		if got := testkit.LeftOnDisk(t, left, shredded); string(got) != "\x00\x00\x00\x00ciphertext" {
			t.Fatalf("the shredding leftover left on disk %q", got)
		}
		return nil
	}
	if got := testkit.LeftOnDisk(t, write, both); string(got) != "\x00\x00\x00\x00ciphertext" {
		t.Fatalf("the pattern's file left on disk %q", got)
	}
	for _, p := range others {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a file not being shredded: %v", err)
		}
	}
	// A leftover beside the pattern's file of the same name is shredded
	// before that file is moved to its shredding name, over it.
	older := filepath.Join(dir, "snap.1.tmp")
	for _, p := range []string{older, older + Suffix} {
		if err := os.WriteFile(p, []byte("SALTciphertext"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := testkit.LeftOnDisk(t, older+Suffix, shredded); string(got) != "\x00\x00\x00\x00ciphertext" {
		t.Fatalf("a leftover beside the pattern's file left on disk %q", got)
	}
	if err := Leftovers(filepath.Join(dir, "gone"), Header(4)); err != nil {
		t.Fatalf("no directory: %v", err)
	}
}

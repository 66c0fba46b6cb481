package testkit

import (
	"errors"
	"io"
	"os"
	"testing"
)

// LeftOnDisk opens the file at path, runs remove, checks the file is gone
// and returns what its blocks hold afterwards, read through the descriptor
// opened before: what a removed file leaves on the disk.
func LeftOnDisk(tb testing.TB, path string, remove func() error) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := remove(); err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		tb.Fatalf("%s is still there: %v", path, err)
	}
	left, err := io.ReadAll(f)
	if err != nil {
		tb.Fatal(err)
	}
	return left
}

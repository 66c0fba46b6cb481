// Package shred removes files whose contents are sealed with a key kept, or
// derived from a salt kept, in their first bytes: overwriting those bytes
// on disk before the file goes leaves what remains of it unreadable for
// good, whatever key the data directory still holds, without rewriting
// the whole file (a restart snapshot of a million households is hundreds
// of megabytes). What it overwrites it syncs first: the kernel drops the
// dirty pages of a file removed before they reach the disk. On a
// copy-on-write filesystem (btrfs, ZFS) an overwrite lands elsewhere and
// the old blocks stay: keep such data directories on an encrypted disk.
package shred

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Keyed says how many of a file's first bytes hold what its contents can
// be read with.
type Keyed func(f *os.File) (int64, error)

// Header is Keyed for files that keep it in their first n bytes.
func Header(n int) Keyed { return func(*os.File) (int64, error) { return int64(n), nil } }

// Suffix names a file being shredded: File moves it out of its name
// first, so that a process killed halfway never leaves a file with its
// header overwritten where a reader looks (a journal's start refused such
// a segment). Leftovers holds what such a kill left.
const Suffix = ".shredding"

// File overwrites the file at path as far as keyed says, syncs it and
// removes the file, after moving it to path+Suffix. A missing file is no
// error.
func File(path string, keyed Keyed) error {
	err := os.Rename(path, path+Suffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred %s: %w", path, err)
	}
	return overwriteAndRemove(path+Suffix, keyed)
}

func overwriteAndRemove(path string, keyed Keyed) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred %s: %w", path, err)
	}
	n, err := keyed(f)
	if err == nil {
		err = Overwrite(f, n)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("shred %s: %w", path, err)
	}
	return nil
}

// overwriteBlock is how much Overwrite writes at once.
const overwriteBlock = 1 << 20

// Overwrite writes zeros over the first n bytes of f and syncs them: for a
// file another name replaced, through a descriptor opened before.
func Overwrite(f *os.File, n int64) error {
	zeros := make([]byte, min(n, overwriteBlock))
	for at := int64(0); at < n; at += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), n-at)], at); err != nil {
			return err
		}
	}
	return f.Sync()
}

// Leftovers shreds, in dir, the files a process killed while shredding
// left, then those whose names match one of patterns (filepath.Match's):
// files of the caller's that a killed process left whole, such as a write
// that never got its name. In that order: shredding a pattern's file
// moves it to its shredding name, over a leftover there. Once it has
// removed any, it syncs dir, so that they do not come back after a power
// loss.
func Leftovers(dir string, keyed Keyed, patterns ...string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred leftovers: %w", err)
	}
	removed := false
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, Suffix) {
			if err := overwriteAndRemove(filepath.Join(dir, name), keyed); err != nil {
				return err
			}
			removed = true
		}
	}
	for _, e := range entries {
		if name := e.Name(); !strings.HasSuffix(name, Suffix) && matchesAny(name, patterns) {
			if err := File(filepath.Join(dir, name), keyed); err != nil {
				return err
			}
			removed = true
		}
	}
	if !removed {
		return nil
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("shred leftovers: %w", err)
	}
	return nil
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// SyncDir syncs directory dir: what was created, renamed or removed in it
// is then on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

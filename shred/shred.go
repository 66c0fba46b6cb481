// Package shred removes files whose contents are sealed with a key kept, or
// derived from a salt kept, in their first bytes: overwriting those bytes
// on disk before the file goes leaves what remains of it unreadable for
// good, whatever key the data directory still holds, without rewriting
// the whole file (a restart snapshot of a million households is hundreds
// of megabytes). What it overwrites it syncs first: the kernel drops the
// dirty pages of a file removed before they reach the disk.
package shred

import (
	"errors"
	"fmt"
	"os"
)

// File overwrites the first keyed bytes of the file at path with zeros,
// syncs them and removes the file. A missing file is no error.
func File(path string, keyed int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred %s: %w", path, err)
	}
	_, err = f.WriteAt(make([]byte, keyed), 0)
	if err == nil {
		err = f.Sync()
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

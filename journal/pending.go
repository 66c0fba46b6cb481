package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Pending reports whether the journal in dir may hold records: a segment
// longer than its header. A missing dir holds none. It needs no key, so a
// monitor started without its journal can tell it would lose readings.
func Pending(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	segments, err := listSegments(dir)
	if err != nil {
		return false, err
	}
	for _, seg := range segments {
		fi, err := os.Stat(seg.path)
		if err != nil {
			return false, fmt.Errorf("journal: %w", err)
		}
		if fi.Size() > int64(headerLen) {
			return true, nil
		}
	}
	return false, nil
}

// Remove shreds every segment of the journal in dir, closed, as Release
// does, then removes dir: a monitor run without its journal drains the
// one an earlier run left.
func Remove(dir string) error {
	segments, err := listSegments(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, seg := range segments {
		if err := seg.shred(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

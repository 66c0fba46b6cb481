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

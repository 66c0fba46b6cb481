//go:build !linux

package hugepages

import "errors"

// Reserve is Linux's only: elsewhere it does nothing and says so.
func Reserve(n int) error {
	if n <= 0 {
		return nil
	}
	return errors.ErrUnsupported
}

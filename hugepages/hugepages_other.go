//go:build !linux

package hugepages

import "errors"

// Reserve is Linux's only: elsewhere it reserves nothing and says so.
func Reserve(n int) (Reserved, error) {
	if n <= 0 {
		return Reserved{}, nil
	}
	return Reserved{}, errors.ErrUnsupported
}

// Done does nothing: nothing was reserved.
func (r Reserved) Done() error { return nil }

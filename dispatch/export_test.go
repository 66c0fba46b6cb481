package dispatch

import "testing"

// SetMaxDevicesMended lowers how many households' devices a start mends a
// snapshot with, until the test ends.
func SetMaxDevicesMended(t *testing.T, n int) {
	was := maxDevicesMended
	maxDevicesMended = n
	t.Cleanup(func() { maxDevicesMended = was })
}

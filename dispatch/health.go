package dispatch

import (
	"sync"
)

// storeHealth remembers whether the store refused the last write the
// decision step asked of it.
type storeHealth struct {
	mu  sync.Mutex
	err error
}

func (d *Dispatcher) storeFailed(err error) {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	d.health.err = err
}

func (d *Dispatcher) storeOK() {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	d.health.err = nil
}

// Degraded reports why the monitor cannot store what it is told, "" while it
// can: a task or the rules' state the store refused, being retried.
func (d *Dispatcher) Degraded() string {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	if d.health.err == nil && !d.commits.failing.Load() {
		return ""
	}
	reason := "the store cannot write"
	if d.health.err != nil {
		reason += ": " + d.health.err.Error()
	}
	return reason
}

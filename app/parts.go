package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
)

// parts owns the monitor's long-running goroutines. Each part runs until it
// is stopped; stop ends them in the reverse order of their start, waiting for
// each, so a part stops before the parts it feeds on: the API and ingest
// before the rules, the rules before the outbox, everything before the store
// closes. A part that ends on its own fails the monitor (failed). A part
// may start others (a standby's takeover, app/ha.go): they stop before it.
type parts struct {
	mu      sync.Mutex
	list    []part
	stopped bool
	failed  chan error // the first part to end on its own
}

type part struct {
	name   string
	cancel context.CancelFunc
	group  *errgroup.Group
}

func newParts() *parts { return &parts{failed: make(chan error, 1)} }

// run starts fn, to run until its part is stopped; once stop has begun, it
// starts nothing.
func (p *parts) run(name string, fn func(ctx context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := new(errgroup.Group)
	g.Go(func() error {
		err := fn(ctx)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped")
			}
			select {
			case p.failed <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
		return err
	})
	p.list = append(p.list, part{name: name, cancel: cancel, group: g})
}

// stop stops every part, last started first.
func (p *parts) stop() error {
	p.mu.Lock()
	list := p.list
	p.list, p.stopped = nil, true
	p.mu.Unlock()
	var errs []error
	for _, pt := range slices.Backward(list) {
		pt.cancel()
		if err := pt.group.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pt.name, err))
		}
	}
	return errors.Join(errs...)
}

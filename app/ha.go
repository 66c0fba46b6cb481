package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/ha"
)

// High availability (ha.enabled, CONTRACT §15): every monitor starts as a
// standby. Its HTTP API answers reads and refuses writes, its store refuses
// them too (a fence no lease matches), and nothing takes device messages.
// A standby loads the rules' state as a start does and follows what the
// leader writes, every followEvery, so that taking over reads only the
// last seconds of writes (at a million households a whole load is about
// 21 s). The one that takes the leader lease fences the store with its
// epoch, reads what it has not followed yet, and connects the monitor's
// persistent sessions, which hand it what the broker kept meanwhile. It
// renews the lease until it stops; if it loses the lease it stops working
// altogether (the monitor exits and its supervisor restarts it, as a
// standby): the store's fence has refused its writes since the takeover.

// followEvery is how often a standby reads what the leader wrote: its
// takeover reads at most this much of the leader's writes, and under a
// million households' load a second of them takes a standby a fraction of
// a second.
const followEvery = time.Second

// standBy sets up the elector and fences the store until the lease is ours.
func (m *Monitor) standBy() error {
	var err error
	m.elector, err = ha.New(ha.Options{
		Lease:      m.db,
		TTL:        m.cfg.HA.LeaseTTL,
		Logger:     m.log.With("component", "ha"),
		Registerer: m.reg,
	})
	if err != nil {
		return err
	}
	// Epochs start at 1: no write passes until the lease is taken.
	m.db.Fence(m.elector.Holder(), 0)
	return nil
}

// lead loads the rules' state and follows the store while it campaigns for
// the lease, takes over, and holds the lease until the monitor stops (nil)
// or loses it (an error, which stops the monitor).
func (m *Monitor) lead(ctx context.Context) error {
	if err := m.load(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while loading
		}
		return fmt.Errorf("stand by: %w", err)
	}
	following, stop := context.WithCancel(ctx)
	var followed sync.WaitGroup
	followed.Go(func() { m.follow(following) })
	epoch, err := m.elector.Campaign(ctx)
	stop()
	followed.Wait()
	if err != nil {
		return nil // stopped while standing by
	}
	m.db.Fence(m.elector.Holder(), epoch)
	// Renewed from the start: a takeover that outlasted the lease would
	// find it expired, maybe another's (at 1,000,000 households a whole
	// load took 17 s against lease_ttl's 10 s, and the monitor that took
	// over lost the lease as it finished loading).
	// The takeover stops where it is if the lease is lost meanwhile: it
	// would connect the sessions another leader uses.
	holding, release := context.WithCancel(ctx)
	defer release()
	taking, lost := context.WithCancel(ctx)
	defer lost()
	held := make(chan error, 1)
	go func() {
		err := m.elector.Hold(holding, epoch)
		lost()
		held <- err
	}()
	if err := m.takeOver(taking); err != nil {
		release()
		return errors.Join(fmt.Errorf("take over: %w", err), <-held)
	}
	m.log.Info("took over: working", "epoch", epoch)
	return <-held
}

// takeOver brings the state up to the store's and starts working, unless
// ctx ends first.
func (m *Monitor) takeOver(ctx context.Context) error {
	m.parts.run("outbox", m.outbox.Run)
	// What the leader wrote since the last read: nothing writes now.
	if err := m.decide.Follow(ctx, m.pipeline); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.takeMessages(ctx)
}

// follow brings the standby's state up to the store's every followEvery
// until ctx ends. A failed read is logged and tried again: the next one
// reads what it missed.
func (m *Monitor) follow(ctx context.Context) {
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := m.decide.Follow(ctx, m.pipeline); err != nil && ctx.Err() == nil {
			m.log.Warn("standing by: could not follow the store; trying again", "err", err)
		}
	}
}

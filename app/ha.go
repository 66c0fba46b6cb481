package app

import (
	"context"
	"fmt"

	"github.com/eldersafe/eldersafe/ha"
)

// High availability (ha.enabled, CONTRACT §15): every monitor starts as a
// standby. Its HTTP API answers reads and refuses writes, its store refuses
// them too (a fence no lease matches), and nothing takes device messages.
// The one that takes the leader lease fences the store with its epoch,
// loads the rules' state the last leader wrote, and connects the monitor's
// persistent sessions, which hand it what the broker kept meanwhile. It
// renews the lease until it stops; if it loses the lease it stops working
// altogether (the monitor exits and its supervisor restarts it, as a
// standby): the store's fence has refused its writes since the takeover.

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

// lead campaigns for the lease, takes over, and holds the lease until the
// monitor stops (nil) or loses it (an error, which stops the monitor).
func (m *Monitor) lead(ctx context.Context) error {
	epoch, err := m.elector.Campaign(ctx)
	if err != nil {
		return nil // stopped while standing by
	}
	m.db.Fence(m.elector.Holder(), epoch)
	if err := m.work(ctx); err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	m.log.Info("took over: working", "epoch", epoch)
	return m.elector.Hold(ctx, epoch)
}

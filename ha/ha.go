// Package ha elects the one monitor that works among several that share a
// database (CONTRACT §15). The elected one holds a lease in the database and
// renews it; the others stand by and take it over when it expires. The lease
// itself, and the fencing that keeps a monitor which lost it from writing,
// are the store's (store/lease.go); this package only keeps time.
package ha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Lease is the leader lease as the store keeps it.
type Lease interface {
	// AcquireLease takes or renews the lease for holder for ttl, if it is
	// free, expired or holder's; ok is false while another holds it.
	AcquireLease(ctx context.Context, holder string, ttl time.Duration) (epoch int64, ok bool, err error)
	// ReleaseLease ends holder's lease now.
	ReleaseLease(ctx context.Context, holder string) error
}

// ErrLost is Hold's error when the lease is another monitor's, or could not
// be renewed before it would expire.
var ErrLost = errors.New("lost the leader lease")

// Options configure an Elector.
type Options struct {
	Lease Lease
	// TTL is how long the lease lasts unrenewed.
	TTL        time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Elector campaigns for the lease and holds it.
type Elector struct {
	opts   Options
	holder string
	leader atomic.Bool
	// held is when the lease was last taken or renewed, by this process's
	// monotonic clock, measured before the request was sent: the database
	// counts the TTL from later, so the lease runs out here first.
	held time.Time
}

// New makes an Elector under a holder name of its own (host, process,
// random), and registers the gauge eldersafe_ha_leader.
func New(opts Options) (*Elector, error) {
	if opts.Lease == nil || opts.TTL <= 0 {
		return nil, errors.New("ha: a lease and a positive TTL are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	e := &Elector{opts: opts, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))}
	promauto.With(opts.Registerer).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_ha_leader",
		Help: "1 while this monitor holds the leader lease and works; 0 while it stands by.",
	}, func() float64 {
		if e.leader.Load() {
			return 1
		}
		return 0
	})
	return e, nil
}

// Holder is the name this monitor holds the lease under.
func (e *Elector) Holder() string { return e.holder }

// Leader reports whether this monitor holds the lease.
func (e *Elector) Leader() bool { return e.leader.Load() }

// Campaign tries to take the lease until it does, and returns its epoch;
// ctx's error if ctx ends first. A standby asks at least every second, so
// that it takes over soon after the lease expires.
func (e *Elector) Campaign(ctx context.Context) (int64, error) {
	poll := min(e.opts.TTL/3, time.Second)
	logged := false
	for {
		sent := time.Now()
		epoch, ok, err := e.opts.Lease.AcquireLease(ctx, e.holder, e.opts.TTL)
		switch {
		case ok:
			e.held = sent
			e.leader.Store(true)
			e.opts.Logger.Info("took the leader lease", "holder", e.holder, "epoch", epoch)
			return epoch, nil
		case err != nil && ctx.Err() == nil:
			e.opts.Logger.Warn("leader lease: cannot reach the store", "err", err)
		case !logged:
			e.opts.Logger.Info("standing by: another monitor holds the leader lease", "holder", e.holder)
			logged = true
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Hold renews the lease a third of its TTL after it was last taken or
// renewed until ctx ends, then releases it so that a standby need not wait
// for it to expire, and returns nil. A renewal that fails is tried again
// until the lease would expire. Hold returns ErrLost when
// another monitor took the lease, or when no renewal succeeded before the
// lease would expire: the caller must stop working (the store's fence
// refuses its writes from then on anyway).
func (e *Elector) Hold(ctx context.Context, epoch int64) error {
	defer e.leader.Store(false)
	// Counted from when the lease was taken, not from now: on a machine
	// starved of CPU the first ask took 9 s of a 10 s lease, and a renewal
	// a third of the TTL after it came too late (docs/performance.md,
	// "Thirty-sixth round").
	next := e.held.Add(e.opts.TTL / 3)
	for {
		wait := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			wait.Stop()
			release, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := e.opts.Lease.ReleaseLease(release, e.holder); err != nil {
				e.opts.Logger.Warn("leader lease not released; a standby takes over once it expires", "err", err)
			}
			return nil
		case <-wait.C:
		}
		sent := time.Now()
		expires := e.held.Add(e.opts.TTL)
		renew, cancel := context.WithDeadline(ctx, expires)
		got, ok, err := e.opts.Lease.AcquireLease(renew, e.holder, e.opts.TTL)
		cancel()
		switch {
		case ctx.Err() != nil:
			continue // released above
		case err == nil && ok && got == epoch:
			e.held = sent
			next = sent.Add(e.opts.TTL / 3)
		case err == nil:
			return fmt.Errorf("%w: another monitor holds it", ErrLost)
		case !time.Now().Before(expires):
			return fmt.Errorf("%w: not renewed within its %s: %w", ErrLost, e.opts.TTL, err)
		default:
			e.opts.Logger.Warn("leader lease not renewed; trying again", "err", err, "expires_in", time.Until(expires))
			// Several tries before the lease expires, not a loop against
			// a store in trouble.
			next = time.Now().Add(min(e.opts.TTL/10, time.Second))
		}
	}
}

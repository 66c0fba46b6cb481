package dispatch

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// The rules' state is made durable by group commit. A reading changes the
// engine's state in memory; Handle then hands back a channel that closes once
// a commit begun after the change has written it. Whoever acknowledges the
// message to the broker waits for that channel, so an acknowledged message
// is never forgotten by a crash: its motion, its water rise, its door
// opening all count after a restart. One commit writes every household
// changed since the last one, in one transaction, so its cost is shared by
// every reading it covers; commits follow each other as fast as the store
// takes them.

// commits is the group-commit state.
type commits struct {
	mu sync.Mutex
	// next closes when the commit after the one running, or the next one
	// when none runs, is written.
	next chan struct{}
	// wanted is set when somebody waits for next; urgent when that is an
	// alarm, whose commit goes before the store's other writes.
	wanted, urgent bool
	// With a journal, a commit writes it and only the states of households
	// whose alerts were raised (see Handle), and the event clock when a
	// tick moved it (clock).
	households map[string]struct{}
	clock      bool
	wake       chan struct{} // capacity 1
	// failing is set while the store refuses commits: the waiters are held
	// and the monitor is degraded.
	failing atomic.Bool
	waiting atomic.Int64
	// retry cuts a failed commit's backoff short: the store took another
	// write, so it very likely takes this one too.
	retry chan struct{} // capacity 1
}

func newCommits() *commits {
	return &commits{next: make(chan struct{}), wake: make(chan struct{}, 1), retry: make(chan struct{}, 1)}
}

// storeWrites says the store took a write: a failing commit tries again now.
func (c *commits) storeWrites() {
	if !c.failing.Load() {
		return
	}
	select {
	case c.retry <- struct{}{}:
	default:
	}
}

// durable returns a channel that closes once what the engine holds now is
// written.
func (c *commits) durable() <-chan struct{} { return c.ask(false, nil, false) }

// ask is durable; urgent, for an alarm, the commit runs before the store's
// other writes queued meanwhile (tasks.Urgent). With a journal the commit
// also writes the states of households and, with clock, the event clock.
func (c *commits) ask(urgent bool, households []string, clock bool) <-chan struct{} {
	c.mu.Lock()
	done := c.next
	c.wanted = true
	c.urgent = c.urgent || urgent
	c.clock = c.clock || clock
	for _, id := range households {
		if c.households == nil {
			c.households = map[string]struct{}{}
		}
		c.households[id] = struct{}{}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return done
}

// wait waits for a durable channel, counting the waiter meanwhile.
func (c *commits) wait(ctx context.Context, done <-chan struct{}) error {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit is what one commit writes.
type commit struct {
	done chan struct{} // closed once it is written
	// urgent: an alarm waits for it.
	urgent bool
	// With a journal: the states and the clock asked for (ask).
	households []string
	clock      bool
}

// take starts a commit, if somebody waits for one.
func (c *commits) take() (commit, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.wanted {
		return commit{}, false
	}
	next := commit{done: c.next, urgent: c.urgent, households: slices.Collect(maps.Keys(c.households)), clock: c.clock}
	c.next, c.wanted, c.urgent = make(chan struct{}), false, false
	c.households, c.clock = nil, false
	return next, true
}

// runCommits writes the engine's changed state whenever somebody waits for
// it, and at least every checkpoint interval for what the clock changed. A
// failed commit is retried in place, with backoff, until it is written or
// ctx ends; the waiters are held meanwhile. At the end it writes what is left.
func (d *Dispatcher) runCommits(ctx context.Context) {
	every := time.NewTicker(d.every)
	defer every.Stop()
	for {
		select {
		case <-ctx.Done():
			// Readings and ticks have stopped: the last commit covers them all.
			d.commits.durable()
			d.commitNow(context.Background(), retryStop)
			// With a snapshot to be written, the households changed are left
			// to it, and the journal kept until the next checkpoint; without
			// one, they are written, so the next start has nothing to replay.
			if d.journal != nil && d.snapshot == nil {
				if err := d.checkpointJournal(context.Background()); err != nil {
					d.log.Error("rules state not checkpointed at shutdown; the next start replays the journal", "err", err)
				}
			}
			return
		case <-d.commits.wake:
			// Let the readings arriving with this one join its commit: a
			// transaction costs more than the rows it writes.
			select {
			case <-time.After(gather):
			case <-ctx.Done():
			}
		case <-every.C:
			d.commits.durable()
		}
		d.commitNow(ctx, retryForever)
	}
}

// gather is how long a commit waits for more readings to join it.
const gather = 2 * time.Millisecond

// Retry policies of commitNow.
const (
	retryForever = iota // until ctx ends
	retryStop           // once more at most: the process is stopping
)

func (d *Dispatcher) commitNow(ctx context.Context, policy int) {
	c, ok := d.commits.take()
	if !ok {
		return
	}
	if c.urgent {
		ctx = tasks.Urgent(ctx)
	}
	delay := retryFirst
	for {
		err := d.write(ctx, c)
		if err == nil {
			d.commits.failing.Store(false)
			d.storeOK()
			close(c.done)
			return
		}
		d.commits.failing.Store(true)
		d.storeFailed(err)
		if policy == retryStop {
			d.log.Error("rule state not saved at shutdown; unacknowledged messages will come again", "err", err)
			return
		}
		d.log.Warn("save rule state failed; retrying, messages stay unacknowledged meanwhile", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		case <-d.commits.retry:
		}
		delay = min(2*delay, retryCap)
	}
}

// write writes a commit: without a journal every household changed since
// the last one; with one, the journal, then the states and the clock c
// asks for.
func (d *Dispatcher) write(ctx context.Context, c commit) error {
	if d.journal == nil {
		_, err := d.checkpoint(ctx)
		return err
	}
	if err := d.journal.Flush(); err != nil {
		return fmt.Errorf("write the journal: %w", err)
	}
	if len(c.households) == 0 && !c.clock {
		return nil
	}
	return d.saveHouseholds(ctx, c.households)
}

// checkpoint writes every household changed since the last checkpoint,
// in transactions of a few hundred between which an alarm's writes go
// first, and the event clock as it was before them with the last. A crash
// between two leaves some households written and the clock where it was:
// their messages are not acknowledged yet, and come again. On failure the
// households not written stay marked changed and the next one writes them.
// It returns how many households it wrote.
func (d *Dispatcher) checkpoint(ctx context.Context) (written int, err error) {
	err = d.withClock(ctx, func(save func([]rules.State, bool) error) error {
		return d.engine.Checkpoint(func(batch []rules.State, last bool) error {
			if err := save(batch, last); err != nil {
				return err
			}
			written += len(batch)
			return nil
		})
	})
	return written, err
}

// saveAlarm writes the states of the households of a reading that raised
// alerts (its own, and those whose alerts it fired), and the event clock,
// in a transaction of their own that goes first (tasks.Urgent): the
// alarm's PUBACK waits for these, not for the commit of every household
// changed meanwhile, thousands at a million households.
func (d *Dispatcher) saveAlarm(ctx context.Context, ids []string) error {
	return d.saveHouseholds(tasks.Urgent(ctx), ids)
}

// saveHouseholds writes the states of the households ids changed since
// they were last written, and the event clock, in one transaction: an
// alarm's, and with a journal those a commit is asked for. Apart from a
// household's deletion (Forget).
func (d *Dispatcher) saveHouseholds(ctx context.Context, ids []string) error {
	d.forget.checkpointMu.Lock()
	defer d.forget.checkpointMu.Unlock()
	return d.withClock(ctx, func(save func([]rules.State, bool) error) error {
		return d.engine.CheckpointHouseholds(ids, save)
	})
}

// alerted is the households of alerts, and householdID first when it is
// not empty.
func alerted(householdID string, alerts []rules.Alert) []string {
	var ids []string
	if householdID != "" {
		ids = append(ids, householdID)
	}
	for _, a := range alerts {
		if !slices.Contains(ids, a.HouseholdID) {
			ids = append(ids, a.HouseholdID)
		}
	}
	return ids
}

// ask has the next commit write what a reading or a tick changed. With a
// journal, that is the journal, the states of households (those whose
// alerts were raised: written before the message is acknowledged, so that
// a restart does not raise them again) and, with clock, the event clock;
// without one, every household changed.
func (d *Dispatcher) ask(urgent bool, households []string, clock bool) <-chan struct{} {
	if d.journal == nil {
		return d.commits.ask(urgent, nil, false)
	}
	return d.commits.ask(urgent, households, clock)
}

// withClock runs a checkpoint of the engine (Checkpoint,
// CheckpointHouseholds), writing its batches, the last with the event
// clock as it is now, in one transaction: one transaction fewer a commit
// than the clock written after it. When the checkpoint had nothing left
// to write, the clock is written alone.
func (d *Dispatcher) withClock(ctx context.Context, checkpoint func(save func(batch []rules.State, last bool) error) error) error {
	var at time.Time
	if d.event != nil {
		at = d.event.Now()
	}
	written := false
	err := checkpoint(func(batch []rules.State, last bool) error {
		if !last {
			return d.store.SaveCheckpoint(ctx, batch, time.Time{})
		}
		written = true
		return d.saveWithClock(ctx, batch, at)
	})
	if err != nil || written {
		return err
	}
	return d.saveWithClock(ctx, nil, at)
}

// saveWithClock writes batch and, unless the clock saved is not older, the
// event clock at, in one transaction, so that the clock saved never goes
// back, even across a restart. One at a time, so no write of an older
// clock lands after a newer one. Checkpoints call it from their save with
// the engine's checkpoint lock held: nothing may take that lock while
// holding clockMu.
func (d *Dispatcher) saveWithClock(ctx context.Context, batch []rules.State, at time.Time) error {
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	if !at.After(d.savedClock) {
		at = time.Time{}
	}
	if err := d.store.SaveCheckpoint(ctx, batch, at); err != nil {
		return err
	}
	if !at.IsZero() {
		d.savedClock = at
	}
	return nil
}

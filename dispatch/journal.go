package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// With a journal (Options.Journal) a reading's message is acknowledged once
// the reading is written to the journal, not once its household's state is
// in the store: a write to a file instead of a row in SQLite's one writer,
// which at a million households set the pace (docs/performance.md). The
// states are written in the background every journalEvery, and the journal
// behind them removed; a start replays over the states what the journal
// holds after them. A reading that raised alerts still has its
// households' states written before its message is acknowledged (Handle),
// so a restart does not raise them again.

// runJournal checkpoints the journal every journalEvery, and when
// checkpointJournalSoon asks, until ctx ends.
func (d *Dispatcher) runJournal(ctx context.Context) {
	every := time.NewTicker(d.journalEvery)
	defer every.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-every.C:
		case <-d.journalNow:
		}
		if err := d.checkpointJournal(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("rules state not checkpointed; the journal keeps the readings until the next try", "err", err)
		}
	}
}

// checkpointJournalSoon asks runJournal for a checkpoint now, rather than
// at the next interval: the journal's files behind it, which hold an
// erased household's readings, are then shredded within a checkpoint's
// time (docs/privacy.md).
func (d *Dispatcher) checkpointJournalSoon() {
	if d.journal == nil {
		return
	}
	select {
	case d.journalNow <- struct{}{}:
	default: // one is asked for already
	}
}

// checkpointJournal writes every household changed and the event clock,
// then removes the journal's files they hold: every record appended before
// it began was applied, and its household marked changed, before it was
// numbered (rules.Journal).
func (d *Dispatcher) checkpointJournal(ctx context.Context) error {
	d.journalMu.Lock()
	defer d.journalMu.Unlock()
	start := time.Now()
	below, err := d.journal.Rotate()
	if err != nil {
		return fmt.Errorf("rotate the journal: %w", err)
	}
	written, err := d.checkpoint(ctx)
	if err != nil {
		d.storeFailed(err)
		return err
	}
	d.storeOK()
	if err := d.journal.Release(below); err != nil {
		return fmt.Errorf("remove the journal up to %d: %w", below, err)
	}
	took := time.Since(start)
	// The gauge keeps the last checkpoint that wrote a household: the tick
	// that came during a long one starts another at once, which finds
	// nothing changed when the monitor is quiet and would replace the
	// minutes an operator needs to see with a fraction of a millisecond.
	if written > 0 {
		d.journalTook.Set(took.Seconds())
	}
	d.log.Debug("rules state checkpointed, journal released", "below", below, "households", written, "took", took)
	return nil
}

// replay applies what the journal holds after the states loaded (above
// after, the last record a snapshot's states hold), in the order it was
// first applied, and raises the tasks its alerts call for (a task still
// open takes them as evidence); then the journal numbers its records above
// every one a state holds. The roll-up of readings is not
// fed again: what it had not flushed is lost in a crash, with or without a
// journal, and what it had would count twice.
func (d *Dispatcher) replay(ctx context.Context, after uint64) error {
	start := time.Now()
	applied := 0
	stats, err := d.journal.Replay(after, func(seq uint64, r rules.Reading) error {
		alerts, ok := d.engine.Replay(seq, r)
		if !ok {
			return nil
		}
		applied++
		if d.event != nil {
			d.event.Advance(r.TS)
		}
		return d.raise(ctx, alerts)
	})
	if err != nil {
		return fmt.Errorf("replay the journal: %w", err)
	}
	d.journal.Continue(d.engine.Applied())
	if stats.Torn > 0 {
		d.log.Warn("journal blocks unreadable, the rest of their files skipped (a write torn by a power loss?)", "files", stats.Torn)
	}
	d.log.Info("journal replayed", "after", after, "files", stats.Segments, "records", stats.Records, "applied", applied, "took", time.Since(start))
	return nil
}

// DrainJournal writes every household changed, the journal's replay
// included, and stops journaling: for a start without a journal on one
// that a run with it left, once Load has replayed it and before Run. The
// caller then removes the journal.
func (d *Dispatcher) DrainJournal(ctx context.Context) error {
	if _, err := d.checkpoint(ctx); err != nil {
		return fmt.Errorf("write the journal's households: %w", err)
	}
	d.engine.SetJournal(nil)
	d.journal = nil
	return nil
}

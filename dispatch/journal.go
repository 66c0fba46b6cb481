package dispatch

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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

// runJournal checkpoints the journal every journalEvery until ctx ends.
func (d *Dispatcher) runJournal(ctx context.Context) {
	every := time.NewTicker(d.journalEvery)
	defer every.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-every.C:
			if err := d.checkpointJournal(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("rules state not checkpointed; the journal keeps the readings until the next try", "err", err)
			}
		}
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
	if err := d.checkpoint(ctx); err != nil {
		d.storeFailed(err)
		return err
	}
	d.storeOK()
	if err := d.journal.Release(below); err != nil {
		return fmt.Errorf("remove the journal up to %d: %w", below, err)
	}
	took := time.Since(start)
	d.journalTook.Set(took.Seconds())
	d.log.Debug("rules state checkpointed, journal released", "below", below, "took", took)
	return nil
}

// replay applies what the journal holds after the states loaded, each
// household's readings in the order they were first applied, and raises the
// tasks their alerts call for (a task still open takes them as evidence);
// then the journal numbers its records above every one a state holds. The
// roll-up of readings is not fed again: what it had not flushed is lost in
// a crash, with or without a journal, and what it had would count twice.
//
// One goroutine reads the journal; a worker a core applies the readings of
// the households hashed to it, in their order. Households are independent
// of each other and the event clock only moves forward, so a million
// households' readings replay in a fraction of the time one goroutine
// takes (docs/performance.md).
func (d *Dispatcher) replay(ctx context.Context) error {
	start := time.Now()
	var applied atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	queues := make([]chan []journaled, runtime.GOMAXPROCS(0))
	for i := range queues {
		queue := make(chan []journaled, 4)
		queues[i] = queue
		g.Go(func() error {
			for batch := range queue {
				for _, j := range batch {
					alerts, ok := d.engine.Replay(j.seq, j.reading)
					if !ok {
						continue
					}
					applied.Add(1)
					if d.event != nil {
						d.event.Advance(j.reading.TS)
					}
					if err := d.raise(gctx, alerts); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	seed := maphash.MakeSeed()
	batches := make([][]journaled, len(queues))
	send := func(i int) error {
		select {
		case queues[i] <- batches[i]:
			batches[i] = nil
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	stats, err := d.journal.Replay(func(seq uint64, r rules.Reading) error {
		i := int(maphash.String(seed, r.HouseholdID) % uint64(len(queues)))
		if batches[i] == nil {
			batches[i] = make([]journaled, 0, replayBatch)
		}
		batches[i] = append(batches[i], journaled{seq, r})
		if len(batches[i]) < replayBatch {
			return nil
		}
		return send(i)
	})
	for i := range queues {
		if err == nil && len(batches[i]) > 0 {
			err = send(i)
		}
		close(queues[i])
	}
	if werr := g.Wait(); werr != nil {
		err = werr // the cause: the reading of the journal stopped for it
	}
	if err != nil {
		return fmt.Errorf("replay the journal: %w", err)
	}
	d.journal.Continue(d.engine.Applied())
	if stats.Torn > 0 {
		d.log.Warn("journal blocks unreadable, the rest of their files skipped (a write torn by a power loss?)", "files", stats.Torn)
	}
	d.log.Info("journal replayed", "files", stats.Segments, "records", stats.Records, "applied", applied.Load(), "took", time.Since(start))
	return nil
}

// journaled is a reading read back from the journal, with its number.
type journaled struct {
	seq     uint64
	reading rules.Reading
}

// replayBatch is how many readings replay hands a worker at once: a
// channel send each would cost more than applying one.
const replayBatch = 256

package dispatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Run fires the rules' deadlines every second on the wall clock and writes
// the engine's changed state (see Durable) until ctx ends; then it writes
// what is left. Stop it only after ingest has stopped, so that no reading is
// applied after that last write.
//
// Under the event clock Handle and Tick fire deadlines as time moves; the
// ticker, and CaughtUp, fire what the low watermark held back once ingest
// caught up. Task escalation follows the same clock: every wall tick, or
// every move of the event clock, so a simulation escalates at the same
// event times however fast it runs.
//
// Every second it also has the month's routine visits scheduled, under
// either clock, apart from the ticks: on the first day of a month that is a
// transaction per household, which must hold up neither a deadline nor a
// device's message.
func (d *Dispatcher) Run(ctx context.Context) error {
	var commits, folds, routine sync.WaitGroup
	commits.Go(func() { d.runCommits(ctx) })
	folds.Go(func() { d.runFolds(ctx) })
	// Last, once the last commit is written: a clean stop leaves the log
	// empty, and the snapshot written next matches the store.
	defer d.fold(context.Background())
	defer commits.Wait()
	defer folds.Wait()
	defer routine.Wait()
	var scheduling atomic.Bool
	timer := time.NewTicker(time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			d.tick(ctx)
			if scheduling.CompareAndSwap(false, true) {
				routine.Go(func() {
					defer scheduling.Store(false)
					if _, err := d.tasks.ScheduleRoutine(ctx); err != nil && ctx.Err() == nil {
						d.log.Error("schedule routine visits", "err", err)
					}
				})
			}
		}
	}
}

// foldEvery is how often the states saved before each acknowledgement are
// folded from the store's log into their table. Longer folds more of a
// household's states into one write, and more households into each page;
// shorter keeps the log, and the fold at a start after a crash, small.
const foldEvery = 30 * time.Second

// runFolds folds the store's log of states every foldEvery until ctx ends.
func (d *Dispatcher) runFolds(ctx context.Context) {
	t := time.NewTicker(foldEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.fold(ctx)
		}
	}
}

// fold folds the store's log of states. A failure is logged: the states
// stay in the log, saved, and the next fold takes them.
func (d *Dispatcher) fold(ctx context.Context) {
	start := time.Now()
	n, err := d.store.FoldRuleStates(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		d.log.Warn("fold of the saved rule states failed; they stay in the log until the next", "err", err)
	case err == nil && n > 0:
		d.log.Debug("saved rule states folded", "households", n, "took", time.Since(start))
	}
}

// CaughtUp fires, under the event clock, what ingest's low watermark held
// back, once an ingest worker has applied all it was given
// (ingest.IntakeOptions.CaughtUp): the next message may be a simulator's
// wait away, and the next second of the ticker hours of event time. A
// no_exit due at 09:31 fired at 09:49, when a message came that found no
// worker behind. Under the wall clock the ticker does it within a second.
func (d *Dispatcher) CaughtUp(ctx context.Context) {
	if d.event != nil {
		d.tick(ctx)
	}
}

// tick fires what is due. A panic in it (a bug, e.g. on one household's
// state) is logged and the next tick runs: it would recur after a restart,
// and a crash loop would stop ingest too, falls included.
func (d *Dispatcher) tick(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("panic while firing deadlines; the next tick tries again", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if err := d.raise(ctx, d.engine.Advance(d.firingNow())); err != nil {
		d.log.Error("raise alerts from deadlines", "err", err)
	}
	if d.event == nil {
		d.escalate(ctx)
	}
}

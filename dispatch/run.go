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
// the engine's changed state (the group commit Handle waits for) until ctx
// ends; then it writes what is left. Stop it only after ingest has stopped,
// so that no reading is applied after that last write.
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
	var commits, routine sync.WaitGroup
	commits.Go(func() { d.runCommits(ctx) })
	if d.journal != nil {
		commits.Go(func() { d.runJournal(ctx) })
	}
	defer commits.Wait()
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
	alerts := d.engine.Advance(d.firingNow())
	if err := d.raise(ctx, alerts); err != nil {
		d.log.Error("raise alerts from deadlines", "err", err)
	}
	if d.journal != nil && len(alerts) > 0 {
		// Without one, the next commit of the checkpoint interval writes them.
		d.ask(false, alerted("", alerts), false)
	}
	if d.event == nil {
		d.escalate(ctx)
	}
}

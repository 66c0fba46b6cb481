package dispatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// Run fires the rules' deadlines every second on the wall clock and saves
// the engine's changed state every checkpoint interval, until ctx ends; then
// it saves the event clock and takes a last checkpoint. Stop it only after
// ingest has stopped, so that no reading is applied after that checkpoint.
//
// Under the event clock Handle and Tick fire deadlines as time moves; the
// ticker saves the clock and fires what the low watermark held back once
// ingest caught up. Task escalation follows the same clock: every wall tick,
// or every move of the event clock, so a simulation escalates at the same
// event times however fast it runs.
func (d *Dispatcher) Run(ctx context.Context) error {
	timer := time.NewTicker(time.Second)
	defer timer.Stop()
	checkpoints := time.NewTicker(d.every)
	defer checkpoints.Stop()
	saved := d.clock.Now()
	for {
		select {
		case <-ctx.Done():
			if d.event != nil {
				d.saveEventClock(&saved)
			}
			d.checkpoint()
			return nil
		case now := <-timer.C:
			d.tick(context.WithoutCancel(ctx), now, &saved)
		case <-checkpoints.C:
			d.checkpoint()
		}
	}
}

// tick fires what is due. A panic in it (a bug, e.g. on one household's
// state) is logged and the next tick runs: it would recur after a restart,
// and a crash loop would stop ingest too, falls included.
func (d *Dispatcher) tick(ctx context.Context, now time.Time, saved *time.Time) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("panic while firing deadlines; the next tick tries again", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if d.event != nil {
		d.saveEventClock(saved)
		now = d.firingNow()
	}
	if err := d.raise(ctx, d.engine.Advance(now)); err != nil {
		d.log.Error("raise alerts from deadlines", "err", err)
	}
	if d.event == nil {
		d.escalate(ctx)
	}
}

// saveEventClock persists the event clock when it moved, so now never goes
// backwards across a restart.
func (d *Dispatcher) saveEventClock(saved *time.Time) {
	now := d.event.Now()
	if now.Equal(*saved) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.store.SaveEventClock(ctx, now); err != nil {
		d.log.Error("save event clock", "err", err)
		return
	}
	*saved = now
}

// checkpoint writes every household changed since the last checkpoint in one
// transaction. On failure they stay marked changed and the next one retries.
func (d *Dispatcher) checkpoint() {
	d.forget.checkpointMu.Lock()
	defer d.forget.checkpointMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := d.engine.Checkpoint(func(batch []rules.State) error { return d.store.SaveRuleStates(ctx, batch) })
	if err != nil {
		d.log.Error("save rule state; retrying at the next checkpoint", "err", err)
	}
}

package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Monitor is what the runner asks of the monitor's API while it runs; a
// *Client is one. Nil in RunOptions: away periods are only logged and the
// runner cannot wait for the monitor.
type Monitor interface {
	Away(ctx context.Context, a Away) error
	Handled(ctx context.Context) (float64, error)
	Clock(ctx context.Context, ts time.Time) (time.Time, error)
}

var _ Monitor = (*Client)(nil)

// DefaultSyncEvery is how much simulated time passes between waits for the
// monitor under Sync. Within that span the monitor may apply messages of
// different devices in any order, so a rule can fire up to this much later
// than its threshold; a wait costs a /metrics scrape (about 5 ms).
const DefaultSyncEvery = 10 * time.Minute

// RunOptions configure a run.
type RunOptions struct {
	World     *World
	Publisher Publisher
	Monitor   Monitor
	// TopicPrefix is where clock ticks go: {TopicPrefix}/sim/clock.
	TopicPrefix string
	// Speed is simulated seconds per wall second; 0 runs as fast as the
	// monitor takes it.
	Speed float64
	// Sync waits, every SyncEvery of simulated time, until the monitor has
	// handled every device message sent, so that it never applies a tick or
	// one device's message ahead of another device's earlier one. It needs
	// Monitor (for /metrics).
	Sync      bool
	SyncEvery time.Duration
	// MaxAhead bounds how many device messages may be sent and not yet
	// handled by the monitor; 0: no bound. The embedded broker drops what
	// does not fit in its 8,192 in-flight messages per subscriber, so a run
	// faster than the monitor needs a bound. Needs Monitor.
	MaxAhead int
	// Progress, when set, gets a line every ReportEvery of wall time (load
	// mode) and a summary at the end.
	Progress    io.Writer
	ReportEvery time.Duration
	Logger      *slog.Logger
	// Now is the wall clock, for pacing; nil: time.Now.
	Now func() time.Time
}

// Result is what a run sent.
type Result struct {
	Messages int64 // device messages, duplicates and garbage included
	Ticks    int64
	Away     int64
	// SimStart and SimEnd are the simulated time covered.
	SimStart, SimEnd time.Time
	Wall             time.Duration
	// Handled is what the monitor counted as handled during the run (when
	// it was asked), for load figures.
	Handled float64
}

// runner is one run's state.
type runner struct {
	o        RunOptions
	start    time.Time // simulated
	wall0    time.Time
	res      Result
	base     float64 // monitor's handled count before the run
	known    float64 // monitor's handled count, last asked
	lastSync time.Time
	// Progress bookkeeping.
	lastReport  time.Time
	lastSent    int64
	lastHandled float64
}

// Run sends the world's messages in time order, with a clock tick every
// simulated minute, until the world ends or ctx is cancelled (which is no
// error: the run stops where it is).
func Run(ctx context.Context, o RunOptions) (Result, error) {
	if o.World == nil || o.Publisher == nil {
		return Result{}, errors.New("run: world and publisher are required")
	}
	if (o.Sync || o.MaxAhead > 0) && o.Monitor == nil {
		return Result{}, errors.New("run: waiting for the monitor needs its API")
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &runner{o: o, start: o.World.Start(), wall0: o.Now()}
	r.lastReport = r.wall0
	r.res.SimStart = r.start
	r.lastSync = r.start
	if o.Monitor != nil && (o.Sync || o.MaxAhead > 0 || o.Progress != nil) {
		n, err := o.Monitor.Handled(ctx)
		if err != nil {
			return r.res, fmt.Errorf("run: %w", err)
		}
		r.base, r.known = n, n
	}
	err := r.run(ctx)
	r.res.Wall = o.Now().Sub(r.wall0)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	if o.Progress != nil {
		r.summary()
	}
	return r.res, err
}

func (r *runner) run(ctx context.Context) error {
	end := r.o.World.End()
	tick := r.start
	for {
		m, ok := r.o.World.Next()
		at := m.At
		if !ok {
			if end.IsZero() {
				return nil
			}
			at = end.Add(time.Second) // ticks up to and including end
		}
		// A tick at T goes out once nothing at or before T is left to send.
		for tick.Before(at) {
			if err := r.tick(ctx, tick); err != nil {
				return err
			}
			tick = tick.Add(time.Minute)
		}
		if !ok {
			r.res.SimEnd = end
			if r.o.Sync {
				return r.sync(ctx)
			}
			return r.o.Publisher.Flush(ctx)
		}
		if err := r.pace(ctx, m.At); err != nil {
			return err
		}
		if m.Away != nil {
			if err := r.away(ctx, *m.Away); err != nil {
				return err
			}
			continue
		}
		if err := r.o.Publisher.Publish(ctx, m); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		r.res.Messages++
		r.res.SimEnd = m.At
		if r.o.Sync && m.Alarm {
			if err := r.sync(ctx); err != nil {
				return err
			}
		}
		if r.o.MaxAhead > 0 && float64(r.res.Messages)-(r.known-r.base) >= float64(r.o.MaxAhead) {
			if err := r.catchUp(ctx, float64(r.res.Messages-int64(r.o.MaxAhead/2))); err != nil {
				return err
			}
		}
		if r.o.Progress != nil && r.res.Messages%1024 == 0 {
			r.report(ctx)
		}
	}
}

func (r *runner) tick(ctx context.Context, t time.Time) error {
	if r.o.Sync && t.Sub(r.lastSync) >= r.o.SyncEvery {
		if err := r.sync(ctx); err != nil {
			return err
		}
		r.lastSync = t
	}
	if err := r.pace(ctx, t); err != nil {
		return err
	}
	payload := append(append([]byte(`{"ts":`), strconv.Quote(t.Format(time.RFC3339))...), '}')
	if err := r.o.Publisher.Publish(ctx, Message{At: t, Topic: r.o.TopicPrefix + "/sim/clock", Payload: payload}); err != nil {
		return fmt.Errorf("run: clock tick: %w", err)
	}
	r.res.Ticks++
	r.res.SimEnd = t
	if r.o.Progress != nil && r.res.Ticks%60 == 0 {
		r.report(ctx)
	}
	return nil
}

// pace waits until the wall clock reaches simulated time t at the run's speed.
func (r *runner) pace(ctx context.Context, t time.Time) error {
	if r.o.Speed <= 0 {
		return ctx.Err()
	}
	due := r.wall0.Add(time.Duration(float64(t.Sub(r.start)) / r.o.Speed))
	wait := due.Sub(r.o.Now())
	if wait < time.Millisecond {
		return ctx.Err()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *runner) away(ctx context.Context, a Away) error {
	r.res.Away++
	if r.o.Monitor == nil {
		r.o.Logger.Info("away period (no API to record it with)", "household_id", a.HouseholdID, "from", a.From, "until", a.Until)
		return nil
	}
	// The monitor must have every message before the period's start, so
	// that the period does not reach back over readings it has not seen.
	if r.o.Sync {
		if err := r.sync(ctx); err != nil {
			return err
		}
	}
	if err := r.o.Monitor.Away(ctx, a); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	r.o.Logger.Info("away period recorded", "household_id", a.HouseholdID, "from", a.From.Format(time.RFC3339), "until", a.Until.Format(time.RFC3339), "reason", a.Reason)
	return nil
}

// sync waits until the monitor has handled every device message sent.
func (r *runner) sync(ctx context.Context) error {
	if err := r.o.Publisher.Flush(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return r.catchUp(ctx, float64(r.res.Messages))
}

// syncTimeout is how long the monitor may take to handle what was sent
// before the run gives up: it is stuck, or messages were lost on the way.
const syncTimeout = 60 * time.Second

// catchUp polls the monitor until it has handled `want` of the messages
// sent in this run.
func (r *runner) catchUp(ctx context.Context, want float64) error {
	deadline := r.o.Now().Add(syncTimeout)
	delay := time.Millisecond
	for {
		n, err := r.o.Monitor.Handled(ctx)
		if err != nil {
			return fmt.Errorf("run: wait for the monitor: %w", err)
		}
		r.known = n
		if n-r.base >= want {
			return nil
		}
		if r.o.Now().After(deadline) {
			return fmt.Errorf("run: the monitor handled %.0f of the %.0f messages sent and made no progress for %s; was something else publishing, or did the broker drop messages (its in-flight queue holds 8,192)?",
				n-r.base, want, syncTimeout)
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// report prints a progress line once every ReportEvery.
func (r *runner) report(ctx context.Context) {
	now := r.o.Now()
	if now.Sub(r.lastReport) < r.o.ReportEvery {
		return
	}
	secs := now.Sub(r.lastReport).Seconds()
	sent := r.res.Messages - r.lastSent
	line := fmt.Sprintf("%s  sim %s  sent %d  %.0f msg/s", now.Sub(r.wall0).Round(time.Second), r.res.SimEnd.In(r.start.Location()).Format("2006-01-02 15:04"), r.res.Messages, float64(sent)/secs)
	if r.o.Monitor != nil {
		if n, err := r.o.Monitor.Handled(ctx); err == nil {
			r.known = n
			line += fmt.Sprintf("  handled %.0f  %.0f msg/s", n-r.base, (n-r.base-r.lastHandled)/secs)
			r.lastHandled = n - r.base
		}
	}
	fmt.Fprintln(r.o.Progress, line)
	r.lastReport, r.lastSent = now, r.res.Messages
}

func (r *runner) summary() {
	secs := max(r.res.Wall.Seconds(), 1e-9)
	fmt.Fprintf(r.o.Progress, "sent %d device messages and %d clock ticks in %s (%.0f msg/s), covering %s of simulated time\n",
		r.res.Messages, r.res.Ticks, r.res.Wall.Round(time.Millisecond), float64(r.res.Messages)/secs, FormatDuration(r.res.SimEnd.Sub(r.res.SimStart)))
	if r.o.Monitor == nil {
		return
	}
	// Give the monitor a moment to finish what is queued, then count.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.catchUp(ctx, float64(r.res.Messages))
	r.res.Handled = r.known - r.base
	fmt.Fprintf(r.o.Progress, "the monitor handled %.0f of them (%.0f msg/s over the run)\n", r.res.Handled, r.res.Handled/max(r.o.Now().Sub(r.wall0).Seconds(), 1e-9))
}

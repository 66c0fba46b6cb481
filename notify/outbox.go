package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/tasks"
)

// Outbox is the durable queue of notices the dispatcher drains. store.DB implements it.
type Outbox interface {
	// DueNotices lists pending notices whose NextAttemptAt is not after now,
	// earliest first, at most limit of them.
	DueNotices(ctx context.Context, now time.Time, limit int) ([]tasks.Notice, error)
	// NextNoticeAt is the earliest NextAttemptAt of any pending notice; false when none is pending.
	NextNoticeAt(ctx context.Context) (time.Time, bool, error)
	// RecordAttempt stores the result of one attempt on the notice and appends
	// a.Entry to its task's timeline, in one transaction.
	RecordAttempt(ctx context.Context, noticeID string, a tasks.Attempt) error
}

// Defaults of Options.
const (
	DefaultMaxAttempts   = 10
	DefaultBaseDelay     = time.Second // equal jitter: the first retry comes 0.5–1 s after the failure
	DefaultMaxDelay      = 5 * time.Minute
	DefaultConcurrency   = 8
	DefaultPollInterval  = time.Second
	DefaultSendTimeout   = 10 * time.Second
	DefaultShutdownGrace = 5 * time.Second
)

// recordTimeout bounds the write of one attempt's result, also during shutdown.
const recordTimeout = 5 * time.Second

// maxErrorLen bounds the error text stored on a notice and its timeline.
const maxErrorLen = 300

// Results counted by eldersafe_notifications_total.
const (
	resultSent   = "sent"
	resultRetry  = "retry"
	resultFailed = "failed"
)

// Options wire a Dispatcher. Zero values get the defaults above.
type Options struct {
	Outbox  Outbox
	Senders map[string]Sender // by channel: "push", "log", "sms"
	// Wall is the clock retries run on, under the wall and the event clock
	// alike; default clock.Wall.
	Wall clock.Clock
	// Domain stamps timeline entries (the event clock under simulation); default Wall.
	Domain      clock.Clock
	MaxAttempts int // attempts before a notice is failed; default 10
	// BaseDelay is the backoff before the first retry; it doubles with every
	// attempt up to MaxDelay, and each delay is drawn from [d/2, d] (equal jitter).
	BaseDelay, MaxDelay time.Duration
	// Concurrency bounds the sends of due notices the dispatcher found
	// itself, and apart from them those of notices handed over as they
	// were committed (Claim); default 8 each.
	Concurrency int

	PollInterval time.Duration // safety poll; default 1 s
	SendTimeout  time.Duration // bounds one attempt; default 10 s
	// ShutdownGrace is how long Run waits, once its context is cancelled, for
	// sends in flight before aborting them; an aborted send is not counted as
	// an attempt and goes out after the restart. Default 5 s.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer // nil: a fresh private registry
	Rand          func() float64        // jitter source in [0, 1), safe for concurrent use; default math/rand/v2
}

func (o *Options) validate() error {
	if o.Outbox == nil {
		return errors.New("notify: outbox is required")
	}
	senders := make(map[string]Sender, len(o.Senders))
	for ch, s := range o.Senders {
		if s == nil {
			return fmt.Errorf("notify: sender for channel %q is nil", ch)
		}
		senders[ch] = s
	}
	o.Senders = senders // a copy: sends read it concurrently
	if o.MaxAttempts < 0 || o.BaseDelay < 0 || o.MaxDelay < 0 || o.Concurrency < 0 || o.PollInterval < 0 || o.SendTimeout < 0 || o.ShutdownGrace < 0 {
		return errors.New("notify: attempts, delays, concurrency and intervals must not be negative")
	}
	if o.Wall == nil {
		o.Wall = clock.Wall{}
	}
	if o.Domain == nil {
		o.Domain = o.Wall
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay == 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.BaseDelay > o.MaxDelay {
		return fmt.Errorf("notify: base delay %s exceeds max delay %s", o.BaseDelay, o.MaxDelay)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.SendTimeout == 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return nil
}

// Dispatcher drains the outbox: it sends due notices with bounded concurrency,
// records every attempt, and retries failures with backoff on wall time.
type Dispatcher struct {
	opts    Options
	wake    chan struct{}
	running atomic.Bool
	// run is the state of the Run under way, nil when none: Claim and
	// Deliver work on it from other goroutines.
	run atomic.Pointer[runState]

	notifications *prometheus.CounterVec
	latency       prometheus.Histogram
}

// NewDispatcher checks the options, fills in defaults and registers the metrics.
func NewDispatcher(opts Options) (*Dispatcher, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	reg := promauto.With(opts.Registerer)
	d := &Dispatcher{
		opts: opts,
		wake: make(chan struct{}, 1),
		notifications: reg.NewCounterVec(prometheus.CounterOpts{
			Name: "eldersafe_notifications_total",
			Help: "Notice delivery attempts by channel and result (sent, retry, failed).",
		}, []string{"channel", "result"}),
		latency: reg.NewHistogram(prometheus.HistogramOpts{
			Name:    "eldersafe_event_to_notify_seconds",
			Help:    "Wall time from a notice being written to the outbox to its successful delivery.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800},
		}),
	}
	for ch := range opts.Senders {
		for _, r := range []string{resultSent, resultRetry, resultFailed} {
			d.notifications.WithLabelValues(ch, r)
		}
	}
	return d, nil
}

// Wake makes Run look for due notices now instead of at its next poll. It
// never blocks; call it after a transaction that enqueued notices has committed.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx is cancelled. It owns its goroutines: it
// returns once the sends in flight have finished and been recorded, or, after
// ShutdownGrace, have been aborted. It returns nil after a cancellation, and an
// error only when the dispatcher is already running.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("notify: dispatcher is already running")
	}
	defer d.running.Store(false)

	// Sends outlive ctx for the grace period, so they get a context of their own.
	sendCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()

	st := &runState{
		inflight: make(map[string]bool, 2*d.opts.Concurrency),
		claimed:  make(map[string]bool),
		held:     make(map[string]time.Time),
		done:     make(chan finished, 2*d.opts.Concurrency), // one slot per send: senders never block
		sendCtx:  sendCtx,
	}
	d.run.Store(st)
	defer d.run.Store(nil)
	timer := time.NewTimer(0) // look at once: notices may be waiting from before a restart
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			st.mu.Lock()
			st.stopping = true // no more claims; those made are delivered or let go
			st.mu.Unlock()
			d.drain(st, abort)
			st.mu.Lock()
			st.over = true // a late Deliver starts nothing
			st.mu.Unlock()
			return nil
		case f := <-st.done:
			st.finish(f)
			if f.direct {
				continue // it freed no slot of the look's: nothing more to send
			}
		case <-d.wake:
		case <-timer.C:
		}
		d.dispatch(ctx, st)
		timer.Reset(d.nextWait(ctx))
	}
}

// runState is the state of one Run. A send reports on done only after its
// attempt is recorded, and ids leave inflight only in Run's goroutine,
// between fetches: a fetch therefore either sees the id in flight or the
// notice's new state, and a notice is never sent twice at once. A notice
// claimed (Claim) enters inflight before its transaction commits, so no
// fetch sees it out of flight until Deliver's send has reported.
type runState struct {
	mu       sync.Mutex // guards what Claim and Deliver touch from other goroutines
	inflight map[string]bool
	// claimed are the notices Claim took that Deliver has not yet sent or let go.
	claimed map[string]bool
	// direct counts the claimed notices in flight, held to Concurrency
	// apart from the sends Run starts itself.
	direct   int
	stopping bool // Run's context ended: nothing more is claimed
	over     bool // Run has returned: nothing more is started

	// Run's goroutine only.
	// held are notices whose last attempt could not be recorded: the outbox
	// still shows them due, but they wait until the time given before another try.
	held    map[string]time.Time
	done    chan finished
	sendCtx context.Context
}

// finished is what a send reports when it is over.
type finished struct {
	id        string
	holdUntil time.Time // zero unless the attempt could not be recorded
	direct    bool      // a claimed notice's
}

func (st *runState) finish(f finished) {
	st.mu.Lock()
	delete(st.inflight, f.id)
	if f.direct {
		st.direct--
	}
	st.mu.Unlock()
	if !f.holdUntil.IsZero() {
		st.held[f.id] = f.holdUntil
	}
}

// busy is how many notices are in flight or claimed.
func (st *runState) busy() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.inflight)
}

// Claim takes the notices of a transaction about to commit that are due
// now, as many as Concurrency allows beside those claimed before, for
// Deliver to send: Run's own look leaves them alone. Without a Run under
// way it takes none.
func (d *Dispatcher) Claim(ns []tasks.Notice) {
	st := d.run.Load()
	if st == nil {
		return
	}
	now := d.opts.Wall.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopping {
		return
	}
	for _, n := range ns {
		if st.direct == d.opts.Concurrency {
			return
		}
		if n.NextAttemptAt.After(now) || st.inflight[n.ID] {
			continue // waits for its time (quiet hours); Run sends it then
		}
		st.inflight[n.ID], st.claimed[n.ID] = true, true
		st.direct++
	}
}

// Deliver is handed the notices of a transaction once it is over. Committed,
// it sends those Claim took and wakes Run for the others; not, it lets the
// claims go. It never blocks: each send has a goroutine of its own, which
// Run waits for.
func (d *Dispatcher) Deliver(ns []tasks.Notice, committed bool) {
	if d.deliverClaimed(ns, committed) < len(ns) && committed {
		d.Wake()
	}
}

// deliverClaimed starts a goroutine for each of ns claimed in the Run under
// way, which sends it when committed and then reports, and says how many
// there were.
func (d *Dispatcher) deliverClaimed(ns []tasks.Notice, committed bool) int {
	st := d.run.Load()
	if st == nil {
		return 0 // the Run that claimed them is over: they are pending, for the next
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.over {
		return 0
	}
	claimed := 0
	for _, n := range ns {
		if !st.claimed[n.ID] {
			continue // not taken, or another Run's
		}
		delete(st.claimed, n.ID)
		claimed++
		d.start(st, n, true, committed)
	}
	return claimed
}

// dispatch starts sends for due notices, as many as there are free slots.
func (d *Dispatcher) dispatch(ctx context.Context, st *runState) {
	for collected := false; !collected; {
		select {
		case f := <-st.done:
			st.finish(f)
		default:
			collected = true
		}
	}
	st.mu.Lock()
	free, direct := d.opts.Concurrency-(len(st.inflight)-st.direct), st.direct
	st.mu.Unlock()
	if free <= 0 {
		return // a finishing send wakes us
	}
	now := d.opts.Wall.Now()
	for id, until := range st.held {
		if !now.Before(until) {
			delete(st.held, id)
		}
	}
	// Notices in flight (Run's own and claimed) or held are still pending and
	// due, and come back in the list; asking for that many more rows than
	// Concurrency leaves room for new ones.
	due, err := d.opts.Outbox.DueNotices(ctx, now, d.opts.Concurrency+direct+len(st.held))
	if err != nil {
		if ctx.Err() == nil {
			d.opts.Logger.Error("notify: list due notices", "err", err)
		}
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, n := range due {
		if free == 0 {
			break
		}
		if _, held := st.held[n.ID]; held || st.inflight[n.ID] {
			continue
		}
		st.inflight[n.ID] = true
		free--
		d.start(st, n, false, true)
	}
}

// start sends n in a goroutine of its own (when send is false it only lets
// the claim go), which reports on done once the attempt is recorded.
func (d *Dispatcher) start(st *runState, n tasks.Notice, direct, send bool) {
	go func() {
		f := finished{id: n.ID, direct: direct}
		defer func() { st.done <- f }()
		if send {
			f.holdUntil = d.deliver(st.sendCtx, n)
		}
	}()
}

// nextWait is how long to sleep: until the next notice falls due, at most PollInterval.
func (d *Dispatcher) nextWait(ctx context.Context) time.Duration {
	poll := d.opts.PollInterval
	next, ok, err := d.opts.Outbox.NextNoticeAt(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.opts.Logger.Error("notify: find next notice", "err", err)
		}
		return poll
	}
	if !ok {
		return poll
	}
	wait := next.Sub(d.opts.Wall.Now())
	if wait <= 0 {
		// What is due is in flight or waiting for a slot; a finishing send wakes us.
		return poll
	}
	return min(wait, poll)
}

// drain waits for the sends in flight, aborting them after the grace period.
func (d *Dispatcher) drain(st *runState, abort context.CancelFunc) {
	if st.busy() == 0 {
		return
	}
	grace := time.NewTimer(d.opts.ShutdownGrace)
	defer grace.Stop()
	aborted := false
	for st.busy() > 0 {
		select {
		case f := <-st.done:
			st.finish(f)
		case <-grace.C:
			if aborted {
				d.opts.Logger.Error("notify: sends ignore cancellation; leaving them behind", "in_flight", st.busy())
				return
			}
			d.opts.Logger.Warn("notify: aborting sends in flight at shutdown; they go out after the restart", "in_flight", st.busy())
			abort()
			aborted = true
			// Aborted sends return at once; records get recordTimeout. Wait that long, no more.
			grace.Reset(recordTimeout + time.Second)
		}
	}
}

// deliver makes one attempt at n and records its result. When the result
// cannot be recorded it says until when the notice should be left alone.
func (d *Dispatcher) deliver(sendCtx context.Context, n tasks.Notice) (holdUntil time.Time) {
	retry, err := d.send(sendCtx, n)
	if err != nil && sendCtx.Err() != nil {
		// Aborted by shutdown: not the notice's fault, and not an attempt. It
		// stays pending and goes out after the restart, under the same idempotency key.
		d.opts.Logger.Info("notify: send aborted by shutdown", "notice_id", n.ID, "channel", n.Channel)
		return time.Time{}
	}
	a := d.attempt(n, retry, err)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(sendCtx), recordTimeout)
	defer cancel()
	if rerr := d.opts.Outbox.RecordAttempt(ctx, n.ID, a); rerr != nil {
		// The notice stays as it was and is tried again after a backoff, not at
		// once; a receiver that honours the idempotency key sees one notice.
		holdUntil = d.opts.Wall.Now().Add(d.backoff(a.Attempts))
		d.opts.Logger.Error("notify: record attempt; will try the notice again", "notice_id", n.ID, "channel", n.Channel,
			"status", a.Status, "retry_at", holdUntil, "err", rerr)
	}

	switch a.Status {
	case tasks.NoticeSent:
		d.notifications.WithLabelValues(n.Channel, resultSent).Inc()
		if !n.CreatedAt.IsZero() {
			d.latency.Observe(max(0, a.SentAt.Sub(n.CreatedAt).Seconds()))
		}
		d.opts.Logger.Debug("notify: sent", "notice_id", n.ID, "task_id", n.TaskID, "channel", n.Channel, "attempt", a.Attempts)
	case tasks.NoticePending:
		d.notifications.WithLabelValues(n.Channel, resultRetry).Inc()
		d.opts.Logger.Warn("notify: send failed; will retry", "notice_id", n.ID, "task_id", n.TaskID, "channel", n.Channel,
			"attempt", a.Attempts, "next_attempt_at", a.NextAttemptAt, "err", a.LastError)
	default:
		d.notifications.WithLabelValues(n.Channel, resultFailed).Inc()
		d.opts.Logger.Error("notify: notice failed", "notice_id", n.ID, "task_id", n.TaskID, "channel", n.Channel,
			"attempt", a.Attempts, "err", a.LastError)
	}
	return holdUntil
}

// send calls the channel's Sender with the per-attempt timeout. A channel with
// no Sender, or a Sender that panics, fails the notice without retry.
func (d *Dispatcher) send(sendCtx context.Context, n tasks.Notice) (retry bool, err error) {
	s, ok := d.opts.Senders[n.Channel]
	if !ok {
		return false, fmt.Errorf("no sender for channel %q", n.Channel)
	}
	ctx, cancel := context.WithTimeout(sendCtx, d.opts.SendTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			retry, err = false, fmt.Errorf("sender panicked: %v", p)
		}
	}()
	return s.Send(ctx, n)
}

// attempt turns the outcome of a send into the notice's new state and its timeline entry.
func (d *Dispatcher) attempt(n tasks.Notice, retry bool, err error) tasks.Attempt {
	now := d.opts.Wall.Now()
	maxAttempts := d.opts.MaxAttempts
	a := tasks.Attempt{Attempts: n.Attempts + 1, NextAttemptAt: n.NextAttemptAt}
	who := fmt.Sprintf("%s to %s (%s)", n.Channel, n.Recipient, n.Role)
	entry := tasks.TimelineEntry{At: d.opts.Domain.Now(), Actor: tasks.ActorSystem, Type: tasks.EntryNotice}

	switch {
	case err == nil:
		a.Status = tasks.NoticeSent
		a.SentAt = &now
		entry.Message = who + ": sent"
		if a.Attempts > 1 {
			entry.Message += fmt.Sprintf(" (attempt %d/%d)", a.Attempts, maxAttempts)
		}
	case retry && a.Attempts < maxAttempts:
		delay := d.backoff(a.Attempts)
		a.Status = tasks.NoticePending
		a.NextAttemptAt = now.Add(delay)
		a.LastError = errorText(err)
		entry.Message = fmt.Sprintf("%s failed (attempt %d/%d): %s; retrying in %s", who, a.Attempts, maxAttempts, a.LastError, roundDelay(delay))
	default:
		a.Status = tasks.NoticeFailed
		a.LastError = errorText(err)
		entry.Type = tasks.EntryNoticeFailed
		why := "not retried"
		if retry {
			why = "giving up"
		}
		entry.Message = fmt.Sprintf("%s failed (attempt %d/%d): %s; %s", who, a.Attempts, maxAttempts, a.LastError, why)
	}
	entry.Data = map[string]any{
		"notice_id": n.ID,
		"channel":   n.Channel,
		"attempt":   a.Attempts,
		"recipient": n.Recipient,
		"role":      n.Role,
		"status":    a.Status,
	}
	a.Entry = entry
	return a
}

// backoff is the delay after the given failed attempt (1 for the first).
func (d *Dispatcher) backoff(attempt int) time.Duration {
	return backoff(attempt, d.opts.BaseDelay, d.opts.MaxDelay, d.opts.Rand())
}

// backoff doubles base with every attempt after the first, caps it at ceiling, and
// draws the delay from [d/2, d] with r in [0, 1) (equal jitter: never a
// stampede at zero, never more than the cap).
func backoff(attempt int, base, ceiling time.Duration, r float64) time.Duration {
	d := min(base, ceiling)
	for i := 1; i < attempt && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling
			break
		}
		d *= 2
	}
	switch {
	case r < 0 || r != r: // negative or NaN
		r = 0
	case r > 1:
		r = 1
	}
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

// roundDelay makes a delay readable on a timeline: whole seconds from 10 s on,
// tenths below.
func roundDelay(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	if d >= 100*time.Millisecond {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func errorText(err error) string {
	s := oneLine(err.Error())
	if len(s) > maxErrorLen {
		s = truncate(s, maxErrorLen) + "…"
	}
	if s == "" {
		s = "unknown error"
	}
	return s
}

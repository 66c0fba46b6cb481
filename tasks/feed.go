package tasks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Change events: what happened to a task, as Options.Changed and the Feed
// report it.
const (
	ChangeOpened = "opened"
	// ChangeUpdated: new evidence was attached, or the condition cleared.
	ChangeUpdated      = "updated"
	ChangeAcknowledged = "acknowledged"
	ChangeOnSite       = "on_site"
	ChangeResolved     = "resolved"
	ChangeEscalated    = "escalated"
	ChangeCancelled    = "cancelled"
	ChangeHandedOver   = "handed_over"
	// ChangeDispatched: a verifying task went to a worker (state open).
	ChangeDispatched = "dispatched"
	// ChangeResync is no change of one task: changes were dropped because a
	// subscriber fell behind, so whatever it shows must be loaded again.
	ChangeResync = "resync"
)

// changeOf is the change event an action's timeline entry records.
func changeOf(entryType string) string {
	switch entryType {
	case EntryAcknowledged:
		return ChangeAcknowledged
	case EntryCheckedIn:
		return ChangeOnSite
	case EntryResolved:
		return ChangeResolved
	case EntryEscalated:
		return ChangeEscalated
	case EntryCancelled:
		return ChangeCancelled
	case EntryHandedOver:
		return ChangeHandedOver
	case EntryDispatched:
		return ChangeDispatched
	}
	return ChangeUpdated
}

// Change is one change of a task as a Feed delivers it.
type Change struct {
	// Seq increases with every change the feed fans out.
	Seq   uint64
	Event string
	// Task is the task after the change; zero for ChangeResync.
	Task Task
	// GridID is the grid of the task's household, for scoping; empty when
	// it could not be looked up (then only who sees every grid gets it).
	GridID string
	// published numbers changes as Publish takes them, so a subscriber gets
	// only those published after it subscribed.
	published uint64
}

// FeedOptions configure a Feed.
type FeedOptions struct {
	// GridOf looks up the grid of a household; required. It is called from
	// the feed's own goroutine, never from the publisher's.
	GridOf func(ctx context.Context, householdID string) (string, error)
	// Queue bounds changes published but not yet fanned out. Zero: 1024.
	Queue int
	// Buffer bounds each subscriber's unread changes. Zero: 64.
	Buffer int
	Logger *slog.Logger
}

// ErrFeedClosed is Subscribe's answer once the feed has stopped.
var ErrFeedClosed = errors.New("tasks: change feed stopped")

// Feed fans task changes out to live subscribers (the web console's event
// stream). Publishing never blocks the task service: a change that finds the
// queue full is dropped, and so are the unread changes of a subscriber whose
// buffer is full; whoever lost changes gets ChangeResync instead and reloads.
// Run it in a goroutine; when its context ends, every subscription ends too.
type Feed struct {
	opts FeedOptions
	in   chan Change
	// lost is set when Publish dropped a change on a full queue.
	lost atomic.Bool
	// published counts changes handed to Publish.
	published atomic.Uint64

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	seq    uint64
}

// NewFeed checks opts and returns a feed; start it with Run.
func NewFeed(opts FeedOptions) (*Feed, error) {
	if opts.GridOf == nil {
		return nil, errors.New("tasks: feed needs GridOf")
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Feed{opts: opts, in: make(chan Change, opts.Queue), subs: make(map[*Subscription]struct{})}, nil
}

// Publish hands a change to the feed without ever blocking; it is the
// service's Options.Changed. After the feed has stopped it does nothing.
func (f *Feed) Publish(t Task, event string) {
	select {
	case f.in <- Change{Event: event, Task: t, published: f.published.Add(1)}:
	default:
		f.lost.Store(true)
	}
}

// gridTimeout bounds one household lookup.
const gridTimeout = 2 * time.Second

// Run fans published changes out until ctx ends, then closes every
// subscription and refuses new ones. It returns nil.
func (f *Feed) Run(ctx context.Context) error {
	defer f.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-f.in:
			c.GridID = f.gridOf(ctx, c.Task.HouseholdID)
			f.deliver(c)
			if f.lost.Swap(false) {
				f.opts.Logger.Warn("task change feed queue full; subscribers resync")
				f.deliver(Change{Event: ChangeResync})
			}
		}
	}
}

func (f *Feed) gridOf(ctx context.Context, householdID string) string {
	ctx, cancel := context.WithTimeout(ctx, gridTimeout)
	defer cancel()
	g, err := f.opts.GridOf(ctx, householdID)
	if err != nil {
		f.opts.Logger.Warn("task change feed: look up household's grid", "household_id", householdID, "err", err)
		return ""
	}
	return g
}

// deliver hands c to every subscriber that wants it. A subscriber whose
// buffer is full loses its unread changes and finds ChangeResync instead.
func (f *Feed) deliver(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	c.Seq = f.seq
	for s := range f.subs {
		if c.Event != ChangeResync && (c.published <= s.from || (s.filter != nil && !s.filter(c))) {
			continue // from before the subscription (the client loaded it), or not the subscriber's
		}
		select {
		case s.c <- c:
			continue
		default:
		}
		// Only deliver sends, under mu: once drained there is room.
		for drained := false; !drained; {
			select {
			case <-s.c:
			default:
				drained = true
			}
		}
		s.c <- Change{Seq: c.Seq, Event: ChangeResync}
		f.opts.Logger.Debug("task change feed: subscriber fell behind; resync")
	}
}

func (f *Feed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		close(s.c)
	}
	clear(f.subs)
}

// Subscription receives a feed's changes; end it with Close.
type Subscription struct {
	f      *Feed
	c      chan Change
	filter func(Change) bool
	// from is the last change published before it subscribed.
	from uint64
}

// Subscribe starts receiving the changes for which filter (nil: every one)
// returns true, and every ChangeResync. filter runs on the feed's goroutine
// and must not block.
func (f *Feed) Subscribe(filter func(Change) bool) (*Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrFeedClosed
	}
	s := &Subscription{f: f, c: make(chan Change, f.opts.Buffer), filter: filter, from: f.published.Load()}
	f.subs[s] = struct{}{}
	return s, nil
}

// C delivers the changes; it is closed when the feed stops or the
// subscription is closed.
func (s *Subscription) C() <-chan Change { return s.c }

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.subs[s]; ok {
		delete(s.f.subs, s)
		close(s.c)
	}
}

// Subscribers counts the live subscriptions.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

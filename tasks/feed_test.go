package tasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// startFeed runs a feed until the test ends; grids maps households to grids.
func startFeed(t *testing.T, o tasks.FeedOptions, grids map[string]string) (*tasks.Feed, context.CancelFunc) {
	t.Helper()
	if o.GridOf == nil {
		o.GridOf = func(_ context.Context, id string) (string, error) {
			g, ok := grids[id]
			if !ok {
				return "", registry.ErrNotFound
			}
			return g, nil
		}
	}
	f, err := tasks.NewFeed(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			t.Errorf("feed Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f, cancel
}

func subscribe(t *testing.T, f *tasks.Feed, filter func(tasks.Change) bool) *tasks.Subscription {
	t.Helper()
	s, err := f.Subscribe(filter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// next waits for the subscription's next change.
func next(t *testing.T, s *tasks.Subscription) tasks.Change {
	t.Helper()
	select {
	case c, ok := <-s.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change within 5 s")
	}
	panic("unreachable")
}

// quiet checks that nothing more arrives: a marker change published after
// everything else must be the next one seen.
func quiet(t *testing.T, f *tasks.Feed, s *tasks.Subscription) {
	t.Helper()
	f.Publish(tasks.Task{ID: "marker", HouseholdID: hhMain}, "marker")
	if c := next(t, s); c.Event != "marker" {
		t.Fatalf("unexpected change %s of task %s", c.Event, c.Task.ID)
	}
}

// TestFeed_ServiceChanges: every committed change of a task reaches a
// subscriber, in order, with the household's grid; refused actions and
// repeats that change nothing do not.
func TestFeed_ServiceChanges(t *testing.T) {
	feed, _ := startFeed(t, tasks.FeedOptions{}, map[string]string{hhMain: gridMain, hhNoWorker: gridNoStaf})
	e := newEnv(t, envOptions{changed: feed.Publish})
	s := subscribe(t, feed, nil)
	ctx := context.Background()

	var last uint64
	want := func(event, taskID string, state tasks.State) tasks.Task {
		t.Helper()
		c := next(t, s)
		if c.Event != event || c.Task.ID != taskID || c.Task.State != state || c.GridID != gridMain {
			t.Fatalf("change = %s of %s (%s) in grid %q; want %s of %s (%s) in %s", c.Event, c.Task.ID, c.Task.State, c.GridID, event, taskID, state, gridMain)
		}
		if c.Seq <= last {
			t.Fatalf("seq %d after %d", c.Seq, last)
		}
		last = c.Seq
		return c.Task
	}

	id := e.openFall(t)
	want(tasks.ChangeOpened, id, tasks.Open)
	e.raise(t, fallAlert(e.advance(time.Minute)))
	want(tasks.ChangeUpdated, id, tasks.Open)

	// Refused: resolve an open task; changes nothing, tells nobody.
	if _, err := e.svc.Resolve(ctx, id, ownerID, "safe", ""); err == nil {
		t.Fatal("resolved an open task")
	}
	if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
		t.Fatal(err)
	}
	got := want(tasks.ChangeAcknowledged, id, tasks.Acknowledged)
	if len(got.Timeline) == 0 {
		t.Error("an action's change carries the task without its timeline")
	}
	// The owner's repeated ack changes nothing.
	if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CheckIn(ctx, id, ownerID, nil, nil); err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeOnSite, id, tasks.OnSite)
	if _, err := e.svc.Handover(ctx, id, ownerID, otherID, "my shift ends"); err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeHandedOver, id, tasks.Acknowledged)
	if _, err := e.svc.CheckIn(ctx, id, otherID, nil, nil); err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeOnSite, id, tasks.OnSite)
	if _, err := e.svc.Resolve(ctx, id, otherID, "safe", "fine"); err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeResolved, id, tasks.Resolved)

	// Escalation and cancellation.
	sos, _ := e.raise(t, alert(hhMain, rules.RuleSOS, rules.Critical, rules.Visit, e.clk.Now(), "sos"))
	want(tasks.ChangeOpened, sos.ID, tasks.Open)
	e.advance(10 * time.Minute)
	if n, err := e.svc.Escalate(ctx); err != nil || n != 1 {
		t.Fatalf("Escalate = %d, %v", n, err)
	}
	want(tasks.ChangeEscalated, sos.ID, tasks.Escalated)
	if _, err := e.svc.Cancel(ctx, sos.ID, "op1", "resident phoned: fine"); err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeCancelled, sos.ID, tasks.Cancelled)

	// A manual task opens like a rule's.
	manual, _, err := e.svc.OpenManual(ctx, hhMain, rules.High, "neighbour worried", "op1")
	if err != nil {
		t.Fatal(err)
	}
	want(tasks.ChangeOpened, manual.ID, tasks.Open)
	quiet(t, feed, s)
}

// TestFeed_Filter: a subscriber gets only the changes its filter accepts;
// a change whose household cannot be looked up has no grid.
func TestFeed_Filter(t *testing.T) {
	feed, _ := startFeed(t, tasks.FeedOptions{}, map[string]string{hhMain: gridMain, hhNoWorker: gridNoStaf})
	s := subscribe(t, feed, func(c tasks.Change) bool { return c.GridID == gridNoStaf || c.Event == "marker" })
	all := subscribe(t, feed, nil)
	feed.Publish(tasks.Task{ID: "t1", HouseholdID: hhMain}, tasks.ChangeOpened)
	feed.Publish(tasks.Task{ID: "t2", HouseholdID: hhNoWorker}, tasks.ChangeOpened)
	feed.Publish(tasks.Task{ID: "t3", HouseholdID: "gone"}, tasks.ChangeOpened)
	if c := next(t, s); c.Task.ID != "t2" || c.GridID != gridNoStaf {
		t.Fatalf("filtered subscriber got %+v", c)
	}
	quiet(t, feed, s)
	for _, want := range []struct{ id, grid string }{{"t1", gridMain}, {"t2", gridNoStaf}, {"t3", ""}} {
		if c := next(t, all); c.Task.ID != want.id || c.GridID != want.grid {
			t.Fatalf("got %s in grid %q, want %s in %q", c.Task.ID, c.GridID, want.id, want.grid)
		}
	}
}

// TestFeed_SlowSubscriberResyncs: a subscriber whose buffer is full loses
// what it has not read and finds a resync instead; others are not held up.
func TestFeed_SlowSubscriberResyncs(t *testing.T) {
	feed, _ := startFeed(t, tasks.FeedOptions{Buffer: 2}, map[string]string{hhMain: gridMain})
	slow := subscribe(t, feed, nil)
	fast := subscribe(t, feed, nil)
	for _, id := range []string{"a", "b", "c", "d"} {
		feed.Publish(tasks.Task{ID: id, HouseholdID: hhMain}, tasks.ChangeOpened)
		if c := next(t, fast); c.Task.ID != id {
			t.Fatalf("fast subscriber got %s, want %s", c.Task.ID, id)
		}
	}
	// slow held a, b; c overflowed it (resync), then d.
	if c := next(t, slow); c.Event != tasks.ChangeResync {
		t.Fatalf("slow subscriber got %s of %s, want resync", c.Event, c.Task.ID)
	}
	if c := next(t, slow); c.Task.ID != "d" {
		t.Fatalf("after the resync: %s, want d", c.Task.ID)
	}
}

// TestFeed_FullQueueResyncs: a change published while the queue is full is
// dropped without blocking the publisher, and every subscriber resyncs.
func TestFeed_FullQueueResyncs(t *testing.T) {
	f, err := tasks.NewFeed(tasks.FeedOptions{Queue: 1, GridOf: func(context.Context, string) (string, error) { return gridMain, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, f, nil)
	f.Publish(tasks.Task{ID: "kept"}, tasks.ChangeOpened)
	f.Publish(tasks.Task{ID: "dropped"}, tasks.ChangeOpened) // must not block
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if c := next(t, s); c.Task.ID != "kept" {
		t.Fatalf("got %+v, want kept", c)
	}
	if c := next(t, s); c.Event != tasks.ChangeResync {
		t.Fatalf("got %+v, want resync", c)
	}
}

// TestFeed_Stop: when the feed's context ends, subscriptions end, new ones
// are refused and publishing still never blocks.
func TestFeed_Stop(t *testing.T) {
	feed, cancel := startFeed(t, tasks.FeedOptions{Queue: 1}, nil)
	s := subscribe(t, feed, nil)
	cancel()
	select {
	case _, ok := <-s.C():
		if ok {
			t.Fatal("got a change, want the subscription closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open after the feed stopped")
	}
	if _, err := feed.Subscribe(nil); !errors.Is(err, tasks.ErrFeedClosed) {
		t.Fatalf("Subscribe after stop: %v, want ErrFeedClosed", err)
	}
	for range 3 {
		feed.Publish(tasks.Task{ID: "late"}, tasks.ChangeOpened)
	}
	s.Close()
	s.Close()
	if n := feed.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after stop", n)
	}
}

func TestFeed_CloseSubscription(t *testing.T) {
	feed, _ := startFeed(t, tasks.FeedOptions{}, map[string]string{hhMain: gridMain})
	s := subscribe(t, feed, nil)
	other := subscribe(t, feed, nil)
	s.Close()
	s.Close()
	if _, ok := <-s.C(); ok {
		t.Fatal("closed subscription delivered")
	}
	if n := feed.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	feed.Publish(tasks.Task{ID: "x", HouseholdID: hhMain}, tasks.ChangeOpened)
	if c := next(t, other); c.Task.ID != "x" {
		t.Fatalf("got %+v", c)
	}
}

func TestNewFeedNeedsGridOf(t *testing.T) {
	if _, err := tasks.NewFeed(tasks.FeedOptions{}); err == nil {
		t.Fatal("NewFeed without GridOf succeeded")
	}
}

// TestFeed_OnlyChangesAfterSubscribing: a change published before a client
// subscribed is not delivered to it, even when the feed fans it out later
// (the client loaded the state that includes it).
func TestFeed_OnlyChangesAfterSubscribing(t *testing.T) {
	feed, err := tasks.NewFeed(tasks.FeedOptions{GridOf: func(context.Context, string) (string, error) { return gridMain, nil }})
	if err != nil {
		t.Fatal(err)
	}
	feed.Publish(tasks.Task{ID: "before", HouseholdID: hhMain}, tasks.ChangeOpened) // queued, not yet fanned out
	s := subscribe(t, feed, nil)
	feed.Publish(tasks.Task{ID: "after", HouseholdID: hhMain}, tasks.ChangeOpened)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if c := next(t, s); c.Task.ID != "after" {
		t.Fatalf("first change %s, want the one after subscribing", c.Task.ID)
	}
}

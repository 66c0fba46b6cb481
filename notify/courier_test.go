package notify

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// gatedSender holds every send until release is closed, and counts them.
type gatedSender struct {
	release chan struct{}
	started chan string
	mu      sync.Mutex
	calls   map[string]int
}

func newGatedSender() *gatedSender {
	return &gatedSender{release: make(chan struct{}), started: make(chan string, 100), calls: map[string]int{}}
}

func (g *gatedSender) Send(ctx context.Context, n tasks.Notice) (bool, error) {
	g.mu.Lock()
	g.calls[n.ID]++
	g.mu.Unlock()
	g.started <- n.ID
	select {
	case <-g.release:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (g *gatedSender) count(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[id]
}

// nextStart waits for a send to start and returns its notice's id.
func (g *gatedSender) nextStart(t *testing.T) string {
	t.Helper()
	select {
	case id := <-g.started:
		return id
	case <-time.After(wait):
		t.Fatal("no send started")
		return ""
	}
}

func (g *gatedSender) noStart(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case id := <-g.started:
		t.Fatalf("send of %s started, want none", id)
	case <-time.After(within):
	}
}

// oneSlot runs a dispatcher with one slot whose sms sends hang until the
// test ends and whose push sends are answered at once.
func oneSlot(t *testing.T, o *memOutbox) (d *Dispatcher, stuck, fast *gatedSender) {
	t.Helper()
	stuck, fast = newGatedSender(), newGatedSender()
	close(fast.release)
	d, _ = startDispatcher(t, Options{
		Outbox: o, Senders: map[string]Sender{"sms": stuck, "push": fast}, Concurrency: 1, PollInterval: time.Hour,
	})
	t.Cleanup(func() { close(stuck.release) }) // before Run is stopped: cleanups run last first
	return d, stuck, fast
}

// idle waits until Run has looked at the outbox at least once.
func idle(t *testing.T, o *memOutbox) {
	t.Helper()
	select {
	case <-o.idleCh:
	case <-time.After(wait):
		t.Fatal("dispatcher never looked at the outbox")
	}
}

// TestDispatcher_ClaimedSentOnce: a notice claimed before its transaction
// commits is left alone by Run's looks, which see it due once committed,
// and sent once by Deliver, however hard Run polls meanwhile.
func TestDispatcher_ClaimedSentOnce(t *testing.T) {
	g := newGatedSender()
	o := newMemOutbox()
	d, _ := startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"push": g}, PollInterval: 2 * time.Millisecond})
	idle(t, o)

	n := testNotice("n1", "push", "")
	claimed := []tasks.Notice{n}
	d.Claim(claimed)
	if got := claimedIDs(d); !slices.Equal(got, []string{n.ID}) {
		t.Fatalf("claimed %v, want %s", got, n.ID)
	}
	o.add(n) // committed: every look sees it due from now on
	d.Wake()
	g.noStart(t, 50*time.Millisecond)

	d.Deliver(claimed, true)
	if id := g.nextStart(t); id != n.ID {
		t.Fatalf("sent %s, want %s", id, n.ID)
	}
	for range 20 {
		d.Wake()
		time.Sleep(time.Millisecond)
	}
	close(g.release)
	if r := nextRecord(t, o); r.ID != n.ID || r.Attempt.Status != tasks.NoticeSent {
		t.Fatalf("recorded %+v, want %s sent", r, n.ID)
	}
	noMoreRecords(t, o, 50*time.Millisecond)
	if c := g.count(n.ID); c != 1 {
		t.Errorf("sent %d times, want once", c)
	}
}

// TestDispatcher_ClaimLetGo: a claim whose transaction did not commit is let
// go without a send; should the notice be there after all (a commit whose
// outcome was unknown), Run sends it.
func TestDispatcher_ClaimLetGo(t *testing.T) {
	g := newGatedSender()
	close(g.release)
	o := newMemOutbox()
	d, _ := startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"push": g}, PollInterval: time.Hour})
	idle(t, o)

	n := testNotice("n1", "push", "")
	d.Claim([]tasks.Notice{n})
	d.Deliver([]tasks.Notice{n}, false)
	g.noStart(t, 50*time.Millisecond)

	o.add(n)
	d.Wake()
	if id := g.nextStart(t); id != n.ID {
		t.Fatalf("sent %s, want %s", id, n.ID)
	}
	if r := nextRecord(t, o); r.Attempt.Status != tasks.NoticeSent {
		t.Fatalf("recorded %+v, want sent", r)
	}
	if c := g.count(n.ID); c != 1 {
		t.Errorf("sent %d times, want once", c)
	}
}

// TestDispatcher_ClaimedNotBehindStuckSends: with every one of Run's slots
// taken by a send that hangs, a claimed notice still leaves at once. Claims
// have Concurrency slots of their own, and wait for no later time.
func TestDispatcher_ClaimedNotBehindStuckSends(t *testing.T) {
	o := newMemOutbox()
	o.add(testNotice("sms-1", "sms", ""))
	d, stuck, fast := oneSlot(t, o)
	stuck.nextStart(t)

	ns := []tasks.Notice{testNotice("a", "push", ""), testNotice("b", "push", ""), testNotice("later", "push", "")}
	ns[2].NextAttemptAt = time.Now().Add(time.Hour) // quiet hours: not Deliver's
	d.Claim(ns)
	if got := claimedIDs(d); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("claimed %v, want only a: one slot, and later is not due", got)
	}
	o.add(ns[0])
	d.Deliver(ns, true)
	if id := fast.nextStart(t); id != "a" {
		t.Fatalf("sent %s, want a", id)
	}
	if r := nextRecord(t, o); r.ID != "a" || r.Attempt.Status != tasks.NoticeSent {
		t.Fatalf("recorded %+v, want a sent", r)
	}
}

// TestDispatcher_RunNotBehindClaimedSends: a claimed send that hangs takes
// none of Run's slots.
func TestDispatcher_RunNotBehindClaimedSends(t *testing.T) {
	o := newMemOutbox()
	d, stuck, fast := oneSlot(t, o)
	idle(t, o)
	n := testNotice("sms-1", "sms", "")
	d.Claim([]tasks.Notice{n})
	o.add(n)
	d.Deliver([]tasks.Notice{n}, true)
	stuck.nextStart(t)

	o.add(testNotice("push-1", "push", ""))
	d.Wake()
	if id := fast.nextStart(t); id != "push-1" {
		t.Fatalf("sent %s, want push-1", id)
	}
}

// TestDispatcher_ClaimWithoutRun: with no Run under way nothing is claimed,
// and Deliver starts nothing: the notices wait for the next Run's look.
func TestDispatcher_ClaimWithoutRun(t *testing.T) {
	g := newGatedSender()
	d, err := NewDispatcher(Options{Outbox: newMemOutbox(), Senders: map[string]Sender{"push": g}})
	if err != nil {
		t.Fatal(err)
	}
	n := testNotice("n1", "push", "")
	d.Claim([]tasks.Notice{n})
	if got := claimedIDs(d); len(got) != 0 {
		t.Fatalf("claimed %v without a Run, want none", got)
	}
	d.Deliver([]tasks.Notice{n}, true)
	g.noStart(t, 20*time.Millisecond)
}

// TestDispatcher_StopWaitsForClaimed: a claim made before Run's context
// ends is still delivered, and Run returns once its send is recorded.
func TestDispatcher_StopWaitsForClaimed(t *testing.T) {
	g := newGatedSender()
	close(g.release)
	o := newMemOutbox()
	d, err := NewDispatcher(Options{Outbox: o, Senders: map[string]Sender{"push": g}, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		d.Run(ctx)
	}()
	idle(t, o)

	n := testNotice("n1", "push", "")
	d.Claim([]tasks.Notice{n})
	cancel()
	// Once Run has seen the cancellation it claims nothing more.
	n2 := []tasks.Notice{testNotice("n2", "push", "")}
	for deadline := time.Now().Add(wait); ; time.Sleep(time.Millisecond) {
		d.Claim(n2)
		if !slices.Contains(claimedIDs(d), "n2") {
			break
		}
		d.Deliver(n2, false)
		if time.Now().After(deadline) {
			t.Fatal("still claiming after the cancellation")
		}
	}
	select {
	case <-stopped:
		t.Fatal("Run returned with a claim neither delivered nor let go")
	case <-time.After(50 * time.Millisecond):
	}
	o.add(n)
	d.Deliver([]tasks.Notice{n}, true)
	if r := nextRecord(t, o); r.ID != n.ID || r.Attempt.Status != tasks.NoticeSent {
		t.Fatalf("recorded %+v, want %s sent", r, n.ID)
	}
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("Run did not return once the claimed notice was sent")
	}
}

// claimedIDs is what the Run under way holds claimed and not yet delivered, sorted.
func claimedIDs(d *Dispatcher) []string {
	st := d.run.Load()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Sorted(maps.Keys(st.claimed))
}

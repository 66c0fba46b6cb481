package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/tasks"
)

// wait bounds every wait on a channel in these tests; nothing should come near it.
const wait = 5 * time.Second

func testNotice(id, channel, address string) tasks.Notice {
	return tasks.Notice{
		ID:          id,
		TaskID:      "task-" + id,
		HouseholdID: "hh-1",
		Rule:        "fall",
		Severity:    "critical",
		Channel:     channel,
		Role:        tasks.RecipientFamily,
		Recipient:   "张三",
		Address:     address,
		Lang:        "zh-CN",
		Title:       "【紧急】王秀英：跌倒",
		Message:     "住户：王秀英",
		OpenedAt:    time.Date(2024, 3, 5, 1, 12, 0, 0, time.UTC),
	}
}

// startDispatcher runs a dispatcher until the test ends, and checks that Run returns.
func startDispatcher(t *testing.T, opts Options) (*Dispatcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	if opts.BaseDelay == 0 {
		opts.BaseDelay = 5 * time.Millisecond
		opts.MaxDelay = 20 * time.Millisecond
	}
	d, err := NewDispatcher(opts)
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("Run did not return after cancel")
		}
	})
	return d, reg
}

// nextRecord waits for the outbox's next recorded attempt.
func nextRecord(t *testing.T, o *memOutbox) recorded {
	t.Helper()
	select {
	case r := <-o.recordedCh:
		return r
	case <-time.After(wait):
		t.Fatalf("no attempt recorded within %s", wait)
		return recorded{}
	}
}

func noMoreRecords(t *testing.T, o *memOutbox, within time.Duration) {
	t.Helper()
	select {
	case r := <-o.recordedCh:
		t.Fatalf("unexpected attempt recorded: %+v", r)
	case <-time.After(within):
	}
}

func counter(d *Dispatcher, channel, result string) float64 {
	var m dto.Metric
	if err := d.notifications.WithLabelValues(channel, result).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestDispatcher_PushRetriedThenSent(t *testing.T) {
	var calls atomic.Int32
	keys := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get("Idempotency-Key")
		if calls.Add(1) == 1 {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	o := newMemOutbox()
	o.add(testNotice("n1", "push", srv.URL))
	domain := time.Date(2024, 3, 5, 9, 12, 30, 0, time.UTC)
	d, reg := startDispatcher(t, Options{
		Outbox:  o,
		Senders: map[string]Sender{"push": NewPush(time.Second)},
		Domain:  clock.Func(func() time.Time { return domain }),
	})

	first := nextRecord(t, o)
	if first.Attempt.Status != tasks.NoticePending || first.Attempt.Attempts != 1 {
		t.Fatalf("first attempt = %+v, want pending after attempt 1", first.Attempt)
	}
	if !strings.Contains(first.Attempt.LastError, "503") || !strings.Contains(first.Attempt.LastError, "upstream down") {
		t.Errorf("LastError = %q, want the status and the body", first.Attempt.LastError)
	}
	e := first.Attempt.Entry
	if e.Type != tasks.EntryNotice || e.Actor != tasks.ActorSystem || !e.At.Equal(domain) {
		t.Errorf("entry = %+v, want a system notice entry at the domain time", e)
	}
	if want := "push to 张三 (family) failed (attempt 1/10): 503 Service Unavailable: upstream down; retrying in "; !strings.HasPrefix(e.Message, want) {
		t.Errorf("entry message = %q, want prefix %q", e.Message, want)
	}

	second := nextRecord(t, o)
	if second.Attempt.Status != tasks.NoticeSent || second.Attempt.Attempts != 2 || second.Attempt.SentAt == nil {
		t.Fatalf("second attempt = %+v, want sent after attempt 2", second.Attempt)
	}
	if got, want := second.Attempt.Entry.Message, "push to 张三 (family): sent (attempt 2/10)"; got != want {
		t.Errorf("entry message = %q, want %q", got, want)
	}
	wantData := map[string]any{"notice_id": "n1", "channel": "push", "attempt": 2, "recipient": "张三", "role": "family", "status": "sent"}
	if fmt.Sprint(second.Attempt.Entry.Data) != fmt.Sprint(wantData) {
		t.Errorf("entry data = %v, want %v", second.Attempt.Entry.Data, wantData)
	}
	if k1, k2 := <-keys, <-keys; k1 != "n1" || k2 != "n1" {
		t.Errorf("Idempotency-Key = %q then %q, want the notice id both times", k1, k2)
	}
	noMoreRecords(t, o, 50*time.Millisecond)

	if got := counter(d, "push", resultRetry); got != 1 {
		t.Errorf("retry count = %v, want 1", got)
	}
	if got := counter(d, "push", resultSent); got != 1 {
		t.Errorf("sent count = %v, want 1", got)
	}
	if got := histogramCount(t, reg, "eldersafe_event_to_notify_seconds"); got != 1 {
		t.Errorf("event_to_notify observations = %d, want 1", got)
	}
}

func TestDispatcher_ClientErrorFailsWithoutRetry(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":"unknown topic"}`, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)

	o := newMemOutbox()
	o.add(testNotice("n1", "push", srv.URL))
	d, _ := startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"push": NewPush(time.Second)}})

	r := nextRecord(t, o)
	a := r.Attempt
	if a.Status != tasks.NoticeFailed || a.Attempts != 1 {
		t.Fatalf("attempt = %+v, want failed after attempt 1", a)
	}
	if a.Entry.Type != tasks.EntryNoticeFailed {
		t.Errorf("entry type = %q, want %q", a.Entry.Type, tasks.EntryNoticeFailed)
	}
	if want := `push to 张三 (family) failed (attempt 1/10): 404 Not Found: {"error":"unknown topic"}; not retried`; a.Entry.Message != want {
		t.Errorf("entry message = %q, want %q", a.Entry.Message, want)
	}
	noMoreRecords(t, o, 50*time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	if got := counter(d, "push", resultFailed); got != 1 {
		t.Errorf("failed count = %v, want 1", got)
	}
}

func TestDispatcher_StalledServerTimesOutAndRetries(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select { // stall until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	o := newMemOutbox()
	o.add(testNotice("n1", "push", srv.URL))
	startDispatcher(t, Options{
		Outbox:      o,
		Senders:     map[string]Sender{"push": NewPush(time.Minute)}, // the dispatcher's timeout is the one that bites
		SendTimeout: 100 * time.Millisecond,
		MaxAttempts: 2,
	})

	first := nextRecord(t, o)
	if first.Attempt.Status != tasks.NoticePending {
		t.Fatalf("first attempt = %+v, want pending (retry)", first.Attempt)
	}
	if !strings.Contains(first.Attempt.LastError, "deadline exceeded") {
		t.Errorf("LastError = %q, want a timeout", first.Attempt.LastError)
	}
	second := nextRecord(t, o)
	if second.Attempt.Status != tasks.NoticeFailed || second.Attempt.Attempts != 2 {
		t.Fatalf("second attempt = %+v, want failed after 2 attempts", second.Attempt)
	}
	if !strings.HasSuffix(second.Attempt.Entry.Message, "; giving up") {
		t.Errorf("entry message = %q, want it to say it gives up", second.Attempt.Entry.Message)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestDispatcher_MaxAttempts(t *testing.T) {
	var calls atomic.Int32
	flaky := SenderFunc(func(ctx context.Context, n tasks.Notice) (bool, error) {
		calls.Add(1)
		return true, errors.New("503 Service Unavailable")
	})
	o := newMemOutbox()
	o.add(testNotice("n1", "sms", "+8613800000000"))
	d, _ := startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"sms": flaky}, MaxAttempts: 4})

	for i := 1; i <= 4; i++ {
		a := nextRecord(t, o).Attempt
		if a.Attempts != i {
			t.Fatalf("attempt %d recorded as %d", i, a.Attempts)
		}
		want := tasks.NoticePending
		if i == 4 {
			want = tasks.NoticeFailed
		}
		if a.Status != want {
			t.Fatalf("attempt %d status = %q, want %q", i, a.Status, want)
		}
		if i < 4 && !a.NextAttemptAt.After(time.Now().Add(-time.Second)) {
			t.Errorf("attempt %d: NextAttemptAt %v is not in the future", i, a.NextAttemptAt)
		}
	}
	noMoreRecords(t, o, 50*time.Millisecond)
	if n := calls.Load(); n != 4 {
		t.Errorf("sender called %d times, want 4", n)
	}
	if got := o.get("n1"); got.Status != tasks.NoticeFailed || got.LastError != "503 Service Unavailable" {
		t.Errorf("notice = %+v, want failed with the last error", got)
	}
	if r, f := counter(d, "sms", resultRetry), counter(d, "sms", resultFailed); r != 3 || f != 1 {
		t.Errorf("retry, failed counts = %v, %v; want 3, 1", r, f)
	}
}

func TestDispatcher_UnknownChannelFails(t *testing.T) {
	o := newMemOutbox()
	o.add(testNotice("n1", "sms", "+8613800000000"))
	startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"log": Log{}}})

	a := nextRecord(t, o).Attempt
	if a.Status != tasks.NoticeFailed || a.Entry.Type != tasks.EntryNoticeFailed {
		t.Fatalf("attempt = %+v, want failed", a)
	}
	if want := `sms to 张三 (family) failed (attempt 1/10): no sender for channel "sms"; not retried`; a.Entry.Message != want {
		t.Errorf("entry message = %q, want %q", a.Entry.Message, want)
	}
}

func TestDispatcher_SenderPanicFails(t *testing.T) {
	o := newMemOutbox()
	o.add(testNotice("n1", "push", ""))
	boom := SenderFunc(func(context.Context, tasks.Notice) (bool, error) { panic("boom") })
	startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"push": boom}})

	a := nextRecord(t, o).Attempt
	if a.Status != tasks.NoticeFailed || !strings.Contains(a.LastError, "sender panicked: boom") {
		t.Fatalf("attempt = %+v, want failed with the panic", a)
	}
}

func TestDispatcher_WakeSendsAtOnce(t *testing.T) {
	sent := make(chan time.Time, 1)
	s := SenderFunc(func(context.Context, tasks.Notice) (bool, error) {
		sent <- time.Now()
		return false, nil
	})
	o := newMemOutbox()
	d, _ := startDispatcher(t, Options{Outbox: o, Senders: map[string]Sender{"log": s}, PollInterval: time.Hour})

	// Wait until the dispatcher has looked at the empty outbox and gone to sleep for the hour.
	select {
	case <-o.idleCh:
	case <-time.After(wait):
		t.Fatal("dispatcher never looked at the outbox")
	}
	o.add(testNotice("n1", "log", ""))
	start := time.Now()
	d.Wake()
	select {
	case at := <-sent:
		if lat := at.Sub(start); lat > 200*time.Millisecond {
			t.Errorf("sent %s after Wake, want well under 1 s", lat)
		}
	case <-time.After(time.Second):
		t.Fatal("not sent within 1 s of Wake")
	}
	if a := nextRecord(t, o).Attempt; a.Status != tasks.NoticeSent {
		t.Errorf("attempt = %+v, want sent", a)
	}
}

func TestDispatcher_WakeNeverBlocks(t *testing.T) {
	d, err := NewDispatcher(Options{Outbox: newMemOutbox()})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		d.Wake() // no Run: the channel fills at once and must not block
	}
}

func TestDispatcher_NeverSendsANoticeTwiceAtOnce(t *testing.T) {
	release := make(chan struct{})
	var (
		mu       sync.Mutex
		active   = map[string]int{}
		calls    = map[string]int{}
		maxTotal int
		overlap  bool
	)
	started := make(chan string, 100)
	s := SenderFunc(func(ctx context.Context, n tasks.Notice) (bool, error) {
		mu.Lock()
		active[n.ID]++
		calls[n.ID]++
		if active[n.ID] > 1 {
			overlap = true
		}
		total := 0
		for _, c := range active {
			total += c
		}
		maxTotal = max(maxTotal, total)
		mu.Unlock()
		started <- n.ID
		<-release
		mu.Lock()
		active[n.ID]--
		mu.Unlock()
		return false, nil
	})
	o := newMemOutbox()
	for i := range 5 {
		o.add(testNotice(fmt.Sprintf("n%d", i), "push", ""))
	}
	d, _ := startDispatcher(t, Options{
		Outbox:       o,
		Senders:      map[string]Sender{"push": s},
		Concurrency:  2,
		PollInterval: 2 * time.Millisecond, // poll hard while the sends are stuck
	})
	for range 2 {
		select {
		case <-started:
		case <-time.After(wait):
			t.Fatal("sends did not start")
		}
	}
	for range 20 {
		d.Wake()
		time.Sleep(time.Millisecond)
	}
	select {
	case id := <-started:
		t.Fatalf("a third send (%s) started while 2 were in flight with Concurrency 2", id)
	default:
	}
	close(release)
	for range 5 {
		if a := nextRecord(t, o).Attempt; a.Status != tasks.NoticeSent {
			t.Fatalf("attempt = %+v, want sent", a)
		}
	}
	noMoreRecords(t, o, 50*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("a notice was sent twice at once")
	}
	if maxTotal > 2 {
		t.Errorf("%d sends at once, want at most 2", maxTotal)
	}
	for id, c := range calls {
		if c != 1 {
			t.Errorf("notice %s sent %d times, want once", id, c)
		}
	}
}

func TestDispatcher_RecordFailureSendsAgainAfterBackoff(t *testing.T) {
	calls := make(chan time.Time, 10)
	s := SenderFunc(func(context.Context, tasks.Notice) (bool, error) {
		calls <- time.Now()
		return false, nil
	})
	o := newMemOutbox()
	o.add(testNotice("n1", "push", ""))
	o.mu.Lock()
	o.failNext["n1"] = 1 // the first result is lost: the store was locked
	o.mu.Unlock()
	startDispatcher(t, Options{
		Outbox:       o,
		Senders:      map[string]Sender{"push": s},
		PollInterval: time.Millisecond, // would resend in a tight loop without the hold
		BaseDelay:    60 * time.Millisecond,
		MaxDelay:     time.Second,
	})

	if a := nextRecord(t, o).Attempt; a.Status != tasks.NoticeSent || a.Attempts != 1 {
		t.Fatalf("attempt = %+v, want sent as attempt 1", a)
	}
	if len(calls) != 2 {
		t.Fatalf("sender called %d times, want 2 (the first result was never recorded)", len(calls))
	}
	first, second := <-calls, <-calls
	if gap := second.Sub(first); gap < 30*time.Millisecond {
		t.Errorf("sent again %s after the lost record, want a backoff of at least 30 ms", gap)
	}
}

func TestDispatcher_RunStopsOnCancel(t *testing.T) {
	t.Run("Idle", func(t *testing.T) {
		d, err := NewDispatcher(Options{Outbox: newMemOutbox(), PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- d.Run(ctx) }()
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(time.Second):
			t.Fatal("Run did not return within 1 s of cancel")
		}
	})

	t.Run("InFlightFinishes", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		s := SenderFunc(func(ctx context.Context, n tasks.Notice) (bool, error) {
			close(started)
			<-release
			return false, nil
		})
		o := newMemOutbox()
		o.add(testNotice("n1", "push", ""))
		d, err := NewDispatcher(Options{Outbox: o, Senders: map[string]Sender{"push": s}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- d.Run(ctx) }()
		<-started
		cancel()
		select {
		case <-stopped:
			t.Fatal("Run returned with a send in flight")
		case <-time.After(20 * time.Millisecond):
		}
		close(release)
		select {
		case <-stopped:
		case <-time.After(wait):
			t.Fatal("Run did not return after the send finished")
		}
		if got := o.get("n1"); got.Status != tasks.NoticeSent {
			t.Errorf("notice = %+v, want sent: a send finishing during shutdown is recorded", got)
		}
	})

	t.Run("GraceAbortsStalledSend", func(t *testing.T) {
		started := make(chan struct{})
		s := SenderFunc(func(ctx context.Context, n tasks.Notice) (bool, error) {
			close(started)
			<-ctx.Done()
			return true, ctx.Err()
		})
		o := newMemOutbox()
		o.add(testNotice("n1", "push", ""))
		d, err := NewDispatcher(Options{Outbox: o, Senders: map[string]Sender{"push": s}, ShutdownGrace: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- d.Run(ctx) }()
		<-started
		cancel()
		select {
		case <-stopped:
		case <-time.After(time.Second):
			t.Fatal("Run did not return within 1 s with a 50 ms grace")
		}
		if got := o.get("n1"); got.Status != tasks.NoticePending || got.Attempts != 0 {
			t.Errorf("notice = %+v, want still pending with no attempt counted", got)
		}
	})

	t.Run("RunTwice", func(t *testing.T) {
		d, err := NewDispatcher(Options{Outbox: newMemOutbox(), PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		o := d.opts.Outbox.(*memOutbox)
		go d.Run(ctx)
		<-o.idleCh
		if err := d.Run(ctx); err == nil {
			t.Error("a second Run succeeded, want an error")
		}
	})
}

func TestNewDispatcher_Options(t *testing.T) {
	if _, err := NewDispatcher(Options{}); err == nil {
		t.Error("no outbox: want an error")
	}
	if _, err := NewDispatcher(Options{Outbox: newMemOutbox(), Senders: map[string]Sender{"push": nil}}); err == nil {
		t.Error("nil sender: want an error")
	}
	if _, err := NewDispatcher(Options{Outbox: newMemOutbox(), BaseDelay: time.Hour, MaxDelay: time.Minute}); err == nil {
		t.Error("base delay above max delay: want an error")
	}
	d, err := NewDispatcher(Options{Outbox: newMemOutbox()})
	if err != nil {
		t.Fatal(err)
	}
	o := d.opts
	if o.MaxAttempts != 10 || o.BaseDelay != time.Second || o.MaxDelay != 5*time.Minute || o.Concurrency != 8 || o.PollInterval != time.Second {
		t.Errorf("defaults = %+v", o)
	}
	// The first retry comes within 2 s whatever the jitter.
	for _, r := range []float64{0, 0.5, 0.999999} {
		if got := backoff(1, o.BaseDelay, o.MaxDelay, r); got > 2*time.Second {
			t.Errorf("first retry after %s, want within 2 s", got)
		}
	}
	// Two dispatchers with nil registerers get private registries: no duplicate-registration panic.
	if _, err := NewDispatcher(Options{Outbox: newMemOutbox()}); err != nil {
		t.Fatal(err)
	}
}

func TestBackoff(t *testing.T) {
	const (
		base    = time.Second
		ceiling = 5 * time.Minute
	)
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond}, // equal jitter: [d/2, d]
		{1, 0.5, 750 * time.Millisecond},
		{1, 1, time.Second},
		{2, 0, time.Second},
		{2, 1, 2 * time.Second},
		{3, 0.5, 3 * time.Second}, // d = 4 s
		{5, 0, 8 * time.Second},   // d = 16 s
		{9, 1, 256 * time.Second}, // d = 256 s, under the cap
		{10, 0, 150 * time.Second},
		{10, 1, ceiling}, // 512 s capped at 300 s
		{1000, 1, ceiling},
		{1000, 0, ceiling / 2},
		{1, -3, 500 * time.Millisecond}, // a bad jitter source is clamped
		{1, 7, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt%d_r%v", tt.attempt, tt.r), func(t *testing.T) {
			if got := backoff(tt.attempt, base, ceiling, tt.r); got != tt.want {
				t.Errorf("backoff(%d, r=%v) = %s, want %s", tt.attempt, tt.r, got, tt.want)
			}
		})
	}

	t.Run("GrowsWithinBounds", func(t *testing.T) {
		prevLow := time.Duration(0)
		for attempt := 1; attempt <= 20; attempt++ {
			low, high := backoff(attempt, base, ceiling, 0), backoff(attempt, base, ceiling, 0.999999)
			if low < prevLow {
				t.Errorf("attempt %d: lower bound %s below the previous %s", attempt, low, prevLow)
			}
			if high > ceiling || low < high/2-time.Millisecond {
				t.Errorf("attempt %d: [%s, %s] outside [d/2, d] or above the cap", attempt, low, high)
			}
			prevLow = low
		}
	})

	t.Run("InjectedRand", func(t *testing.T) {
		o := newMemOutbox()
		d, err := NewDispatcher(Options{Outbox: o, Rand: func() float64 { return 0.5 }, BaseDelay: 2 * time.Second, MaxDelay: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.backoff(2); got != 3*time.Second { // d = 4 s, halfway through [2 s, 4 s]
			t.Errorf("backoff(2) = %s, want 3s", got)
		}
	})
}

func TestDispatcher_AttemptStampsClocks(t *testing.T) {
	wall := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	domain := time.Date(2024, 3, 5, 9, 12, 0, 0, time.UTC)
	d, err := NewDispatcher(Options{
		Outbox: newMemOutbox(),
		Wall:   clock.Func(func() time.Time { return wall }),
		Domain: clock.Func(func() time.Time { return domain }),
		Rand:   func() float64 { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	n := testNotice("n1", "push", "")
	n.Attempts = 2
	a := d.attempt(n, true, errors.New("503 Service Unavailable"))
	if a.Status != tasks.NoticePending || a.Attempts != 3 {
		t.Fatalf("attempt = %+v", a)
	}
	if want := wall.Add(2 * time.Second); !a.NextAttemptAt.Equal(want) { // attempt 3: d = 4 s, r = 0 → 2 s
		t.Errorf("NextAttemptAt = %v, want %v (wall time)", a.NextAttemptAt, want)
	}
	if !a.Entry.At.Equal(domain) {
		t.Errorf("entry at %v, want the domain time %v", a.Entry.At, domain)
	}
	if want := "push to 张三 (family) failed (attempt 3/10): 503 Service Unavailable; retrying in 2s"; a.Entry.Message != want {
		t.Errorf("entry message = %q, want %q", a.Entry.Message, want)
	}

	a = d.attempt(n, false, nil)
	if a.Status != tasks.NoticeSent || a.SentAt == nil || !a.SentAt.Equal(wall) {
		t.Errorf("sent attempt = %+v, want SentAt at wall time", a)
	}

	long := errors.New(strings.Repeat("错", 400))
	if a = d.attempt(n, false, long); len(a.LastError) > maxErrorLen+len("…") {
		t.Errorf("LastError is %d bytes, want it bounded", len(a.LastError))
	}
}

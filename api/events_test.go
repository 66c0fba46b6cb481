package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/tasks"
)

// newEventEnv is newEnv with a running task change feed behind GET
// /api/v1/events, fed by the tasks service the API uses.
func newEventEnv(t *testing.T, heartbeat time.Duration) (*testEnv, *tasks.Feed) {
	t.Helper()
	var e *testEnv
	feed, err := tasks.NewFeed(tasks.FeedOptions{GridOf: func(ctx context.Context, id string) (string, error) {
		h, err := e.store.Household(ctx, id)
		return h.GridID, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e = newEnv(t, func(o *Options) { o.Events = feed; o.EventHeartbeat = heartbeat })
	// newEnv's service tells nobody of changes: the API gets one that does.
	svc, err := tasks.NewService(tasks.Options{Store: e.store, Clock: e.clock, Composer: plainComposer{}, Wall: clock.Wall{}, Changed: feed.Publish})
	if err != nil {
		t.Fatal(err)
	}
	e.tasks, e.api.opts.Tasks = svc, svc
	return e, feed
}

// sseEvent is one server-sent event; a comment has type ":".
type sseEvent struct {
	id, typ, data string
}

type sseStream struct {
	t      *testing.T
	header http.Header
	events chan sseEvent
}

// stream opens GET /api/v1/events with token; it is closed when the test ends.
func (e *testEnv) stream(token string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		e.t.Fatalf("GET /api/v1/events: status %d", resp.StatusCode)
	}
	s := &sseStream{t: e.t, header: resp.Header, events: make(chan sseEvent, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.typ, ev.data = ":", strings.TrimSpace(line[1:])
			default:
				field, value, _ := strings.Cut(line, ": ")
				switch field {
				case "id":
					ev.id = value
				case "event":
					ev.typ = value
				case "data":
					ev.data = value
				case "retry":
				default:
					e.t.Errorf("unexpected stream line %q", line)
				}
			}
		}
	}()
	e.t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return s
}

// next is the next event that is not a comment.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if ev.typ != ":" {
				return ev
			}
		case <-timeout:
			s.t.Fatal("no event within 5 s")
		}
	}
}

// task reads the next event as a task change.
func (s *sseStream) task() (string, tasks.Task) {
	s.t.Helper()
	ev := s.next()
	if ev.typ != "task" || ev.id == "" {
		s.t.Fatalf("event %+v, want a task event with an id", ev)
	}
	var d struct {
		Event string     `json:"event"`
		Task  tasks.Task `json:"task"`
	}
	if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
		s.t.Fatalf("event data %q: %v", ev.data, err)
	}
	if d.Task.Evidence != nil || d.Task.Timeline != nil {
		s.t.Errorf("event carries evidence or timeline: %s", ev.data)
	}
	return d.Event, d.Task
}

func TestEvents(t *testing.T) {
	e, _ := newEventEnv(t, time.Hour)
	tok, t1, t2 := e.people()

	op := e.stream(tok["op"])
	if ct := op.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := op.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if ev := <-op.events; ev.typ != ":" || ev.data != "connected" {
		t.Errorf("first message %+v, want the connected comment", ev)
	}
	gw1, gw3 := e.stream(tok["gw1"]), e.stream(tok["gw3"])

	// A grid worker sees their grid's changes only; the office sees all.
	as := func(user string) reqOption { return withToken(tok[user]) }
	e.must(200, "POST", "/api/v1/tasks/"+t2+"/ack", `{"worker_id":"w3"}`, as("gw3"))
	e.must(200, "POST", "/api/v1/tasks/"+t1+"/ack", `{"worker_id":"w1"}`, as("gw1"))
	e.must(200, "POST", "/api/v1/tasks/"+t1+"/checkin", `{"worker_id":"w1"}`, as("gw1"))
	e.must(200, "POST", "/api/v1/tasks/"+t1+"/resolve", `{"worker_id":"w1","outcome":"safe"}`, as("gw1"))
	t3 := e.openTask("fall", "critical")
	e.must(200, "POST", "/api/v1/tasks/"+t3.ID+"/cancel", `{"reason":"wristband dropped"}`, as("op"))

	type change struct{ event, id string }
	want := map[*sseStream][]change{
		op:  {{"acknowledged", t2}, {"acknowledged", t1}, {"on_site", t1}, {"resolved", t1}, {"opened", t3.ID}, {"cancelled", t3.ID}},
		gw1: {{"acknowledged", t1}, {"on_site", t1}, {"resolved", t1}, {"opened", t3.ID}, {"cancelled", t3.ID}},
		gw3: {{"acknowledged", t2}},
	}
	for s, changes := range want {
		for _, c := range changes {
			ev, task := s.task()
			if ev != c.event || task.ID != c.id {
				t.Fatalf("got %s of %s, want %s of %s", ev, task.ID, c.event, c.id)
			}
		}
	}
	// gw3 saw nothing of grid g1: the next thing it gets is its own grid's.
	e.must(200, "POST", "/api/v1/tasks/"+t2+"/checkin", `{"worker_id":"w3"}`, as("gw3"))
	if ev, task := gw3.task(); ev != "on_site" || task.ID != t2 {
		t.Fatalf("gw3 got %s of %s", ev, task.ID)
	}
}

func TestEventsAccess(t *testing.T) {
	e, _ := newEventEnv(t, time.Hour)
	tok, _, _ := e.people()
	for _, c := range []struct {
		name   string
		opts   []reqOption
		status int
	}{
		{"family may not", []reqOption{withToken(tok["fam1"])}, 403},
		{"no token", []reqOption{noToken()}, 401},
		// The token goes in the header, never the URL.
		{"token in the query is not enough", []reqOption{noToken()}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/api/v1/events"
			if strings.Contains(c.name, "query") {
				path += "?access_token=" + tok["op"]
			}
			if r := e.do("GET", path, "", c.opts...); r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
		})
	}
	if r := e.do("POST", "/api/v1/events", ""); r.status != 405 {
		t.Errorf("POST: %d, want 405", r.status)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	e, _ := newEventEnv(t, 20*time.Millisecond)
	s := e.stream(testToken)
	beats := 0
	timeout := time.After(5 * time.Second)
	for beats < 2 {
		select {
		case ev := <-s.events:
			if ev.typ == ":" && ev.data == "heartbeat" {
				beats++
			}
		case <-timeout:
			t.Fatalf("%d heartbeats in 5 s", beats)
		}
	}
}

// TestEventsEndWithFeed: streams end when the feed stops (the monitor shuts
// down), and new ones are refused.
func TestEventsEndWithFeed(t *testing.T) {
	var e *testEnv
	feed, err := tasks.NewFeed(tasks.FeedOptions{GridOf: func(context.Context, string) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	e = newEnv(t, func(o *Options) { o.Events = feed; o.EventHeartbeat = time.Hour })
	s := e.stream(testToken)
	cancel()
	<-done
	timeout := time.After(5 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-s.events:
			ended = !ok
		case <-timeout:
			t.Fatal("stream still open after the feed stopped")
		}
	}
	r := e.do("GET", "/api/v1/events", "")
	if code, _ := r.errorOf(t); r.status != 503 || code != "unavailable" {
		t.Fatalf("after stop: %d %s", r.status, code)
	}
}

// TestEventsResync: a stream that fell behind is told to load again.
func TestEventsResync(t *testing.T) {
	e, feed := newEventEnv(t, time.Hour)
	e.seed()
	s := e.stream(testToken)
	// Fill the subscriber's buffer (64) and more before the reader drains it:
	// the HTTP pipe buffers some, so publish plenty.
	for range 5000 {
		feed.Publish(tasks.Task{ID: "x", HouseholdID: "h1"}, tasks.ChangeUpdated)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.typ == "resync" {
				if ev.data != "{}" || ev.id == "" {
					t.Errorf("resync %+v", ev)
				}
				return
			}
		case <-timeout:
			t.Fatal("no resync")
		}
	}
}

// TestEventsOutliveWriteTimeout: a stream lives longer than the server's
// WriteTimeout (the monitor's is 60 s), each write getting its own deadline.
func TestEventsOutliveWriteTimeout(t *testing.T) {
	e, _ := newEventEnv(t, 50*time.Millisecond)
	srv := httptest.NewUnstartedServer(e.api.Handler())
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	s := e.stream(testToken)
	beats := 0
	timeout := time.After(10 * time.Second)
	for start := time.Now(); time.Since(start) < time.Second; {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended after %v (%d heartbeats)", time.Since(start), beats)
			}
			if ev.typ == ":" && ev.data == "heartbeat" {
				beats++
			}
		case <-timeout:
			t.Fatal("no heartbeat")
		}
	}
	if beats < 5 {
		t.Errorf("%d heartbeats in 1 s, want about 20", beats)
	}
}

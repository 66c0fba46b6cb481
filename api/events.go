package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Events is the live feed of task changes behind GET /api/v1/events;
// *tasks.Feed implements it.
type Events interface {
	Subscribe(filter func(tasks.Change) bool) (*tasks.Subscription, error)
}

var _ Events = (*tasks.Feed)(nil)

// DefaultEventHeartbeat is how often an idle event stream sends a comment,
// so that proxies keep it open and clients can tell it is alive.
const DefaultEventHeartbeat = 20 * time.Second

// eventWriteTimeout bounds one write to an event stream: a client that reads
// nothing for this long is dropped. It replaces the server's WriteTimeout,
// which would end every stream after a fixed time.
const eventWriteTimeout = 30 * time.Second

// eventRetry is the reconnection delay an event stream suggests, in ms.
const eventRetry = 3000

func (a *API) eventRoutes(rt *router) {
	if a.opts.Events == nil {
		return
	}
	rt.handle("GET /api/v1/events", a.streamEvents,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
}

// taskEvent is the data of a "task" event.
type taskEvent struct {
	Event string     `json:"event"`
	Task  tasks.Task `json:"task"`
}

// streamEvents answers GET /api/v1/events with a server-sent event stream
// (text/event-stream) of the changes of tasks the caller may see:
//
//	event: task            data: {"event": "opened", "task": {...}} (without evidence and timeline)
//	event: resync          data: {}   (changes were dropped: load everything again)
//	: heartbeat            a comment every EventHeartbeat
//
// It authenticates like every route, with the Authorization header: a token
// in the URL would end up in the audit log, proxies' logs and the browser's
// history, so the console reads the stream with fetch rather than
// EventSource (which cannot send headers). There is no replay: a client
// loads what it shows when it connects and again after a resync, and then
// applies the changes.
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	sub, err := a.opts.Events.Subscribe(func(c tasks.Change) bool {
		return p.seesHousehold(registry.Household{ID: c.Task.HouseholdID, GridID: c.GridID})
	})
	if errors.Is(err, tasks.ErrFeedClosed) {
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "the monitor is shutting down")
	}
	if err != nil {
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	send := func(s string) error {
		// Not every writer has deadlines (httptest's recorder): then the
		// server's own timeouts are all there is.
		if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(fmt.Sprintf("retry: %d\n: connected\n\n", eventRetry)); err != nil {
		return nil // the client is gone; the status is out already
	}
	heartbeat := time.NewTicker(a.opts.EventHeartbeat)
	defer heartbeat.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return nil
		case <-heartbeat.C:
			msg = ": heartbeat\n\n"
		case c, ok := <-sub.C():
			if !ok {
				return nil // the feed stopped: the monitor is shutting down
			}
			if msg, err = eventMessage(c); err != nil {
				a.log.Error("encode task event", "task_id", c.Task.ID, "err", err)
				msg = fmt.Sprintf("id: %d\nevent: resync\ndata: {}\n\n", c.Seq)
			}
		}
		if err := send(msg); err != nil {
			return nil
		}
	}
}

// eventMessage is c as one server-sent event.
func eventMessage(c tasks.Change) (string, error) {
	if c.Event == tasks.ChangeResync {
		return fmt.Sprintf("id: %d\nevent: resync\ndata: {}\n\n", c.Seq), nil
	}
	// The task's summary: evidence and timeline are read through GET
	// /api/v1/tasks/{id}, with whatever checks that route makes.
	t := c.Task
	t.Evidence, t.Timeline = nil, nil
	data, err := json.Marshal(taskEvent{Event: c.Event, Task: t})
	if err != nil {
		return "", err
	}
	// JSON has no raw newlines, so data fits on one line.
	return fmt.Sprintf("id: %d\nevent: task\ndata: %s\n\n", c.Seq, data), nil
}

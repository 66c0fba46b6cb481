// Package trust measures how far the monitor's tasks can be trusted: it runs
// a simulated population through the monitor in process, with the ground
// truth of what really happened, and reports per rule how many workers were
// sent, how many found something wrong, how many incidents no one was sent
// to, and how long it took. docs/trust.md shows the report and how to make it.
package trust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/simulator"
	"github.com/eldersafe/eldersafe/tasks"
)

// Observed is what one run of a population did: the monitor's tasks, and
// what really happened.
type Observed struct {
	Tasks []Task
	Truth []simulator.Truth
	// Households and Span are the population's size and the time it ran.
	Households int
	Span       time.Duration
	// Messages are the device messages delivered; Wall how long it took.
	Messages int64
	Wall     time.Duration
	// WorkerErrors counts the simulated workers' actions the monitor refused.
	WorkerErrors int
}

// Task is one task as the run saw it.
type Task struct {
	ID, HouseholdID, Rule, Kind string
	// Raised is when the task was created, in whatever state; Sent when it
	// first stood open, assigned and notified: a worker was sent. Sent is
	// zero for a task settled before that (a resident who answered a check).
	Raised, Sent time.Time
	// assignee is the worker sent.
	assignee string
}

// Visit reports whether the task sends someone to the resident, rather than
// to a device.
func (t Task) Visit() bool { return t.Kind == "visit" }

// Measure runs the scenario through a monitor of its own started in process
// with cfg (its store in a temporary directory, on the event clock, its
// listeners on free loopback ports): provisioned over its HTTP API, fed
// through ingest's pipeline in process, time moved by a tick every
// simulated minute. It returns the tasks and the truth. Progress, when not
// nil, gets a line every half minute.
func Measure(ctx context.Context, cfg app.Config, sc *simulator.Scenario, log *slog.Logger, progress io.Writer) (Observed, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sc.Duration <= 0 {
		return Observed{}, errors.New("trust: the scenario needs a duration")
	}
	dir, err := os.MkdirTemp("", "eldersafe-trust-")
	if err != nil {
		return Observed{}, fmt.Errorf("trust: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.Clock, cfg.Simulation = app.ClockEvent, true
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.URL, cfg.MQTT.Broker.Addr = "", "127.0.0.1:0"
	cfg.Auth.AdminToken = "" // generated, kept in the store that goes with the run
	m, err := app.Start(ctx, cfg, log, io.Discard)
	if err != nil {
		return Observed{}, fmt.Errorf("trust: start the monitor: %w", err)
	}
	w := &watcher{}
	m.WatchTasks(w.change)
	obs, err := run(ctx, m, w, cfg.MQTT.Prefix, m.AdminToken(), sc, log, progress)
	if cerr := m.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("trust: close the monitor: %w", cerr)
	}
	obs.Tasks = w.tasks()
	return obs, err
}

func run(ctx context.Context, m *app.Monitor, w *watcher, prefix, token string, sc *simulator.Scenario, log *slog.Logger, progress io.Writer) (Observed, error) {
	world, err := simulator.NewWorld(sc, prefix, "sim-")
	if err != nil {
		return Observed{}, err
	}
	api, err := simulator.NewClient("http://"+m.HTTPAddr(), token)
	if err != nil {
		return Observed{}, err
	}
	if _, err := api.Clock(ctx, world.Start()); err != nil {
		return Observed{}, fmt.Errorf("trust: set the monitor's clock: %w", err)
	}
	n := world.Neighbourhood()
	if err := simulator.Provision(ctx, api, n, sc.Seed, 4, log); err != nil {
		return Observed{}, err
	}
	pub := &direct{m: m, w: w, workers: workers{api: api, m: m, truth: world.Truth(), log: log}}
	pub.workers.byHousehold = indexTruth(pub.workers.truth)
	pub.workers.answers = newAnswerer(sc.Seed, pub.workers.truth, world.Lives())
	w.setAnswerer(pub.workers.answers)
	res, err := simulator.Run(ctx, simulator.RunOptions{
		World: world, Publisher: pub, Monitor: api, TopicPrefix: prefix, Logger: log,
		Progress: progress, ReportEvery: 30 * time.Second,
	})
	if err != nil {
		return Observed{}, err
	}
	if err := ctx.Err(); err != nil {
		return Observed{}, err
	}
	// The last tick: every deadline up to the end has fired once it returns.
	if _, err := api.Clock(ctx, world.End()); err != nil {
		return Observed{}, fmt.Errorf("trust: set the monitor's clock to the end: %w", err)
	}
	log.Info("population run", "households", len(n.Households), "messages", res.Messages, "rejected", pub.rejected,
		"worker_errors", pub.workers.failed, "took", res.Wall.Round(time.Millisecond))
	return Observed{
		Truth: world.Truth(), Households: len(n.Households), Span: world.End().Sub(world.Start()),
		Messages: res.Messages, Wall: res.Wall, WorkerErrors: pub.workers.failed,
	}, nil
}

// direct hands the simulator's messages to the monitor in process and,
// after each clock tick, lets the workers do what is due.
type direct struct {
	m       *app.Monitor
	w       *watcher
	workers workers
	// last closes once what the last message changed is stored.
	last     <-chan struct{}
	rejected int
}

var _ simulator.Publisher = (*direct)(nil)

func (d *direct) Publish(ctx context.Context, msg simulator.Message) error {
	durable, err := d.m.Deliver(ctx, msg.Topic, msg.Payload)
	if errors.As(err, new(*ingest.RejectError)) {
		d.rejected++ // garbage is part of a population's life, as with hardware
		return nil
	}
	if err != nil {
		return fmt.Errorf("deliver %s: %w", msg.Topic, err)
	}
	d.last = durable
	if msg.Device == "" { // a tick: the workers' time
		d.workers.act(ctx, d.w.due(msg.At))
	}
	return nil
}

// When a worker sent to a task acknowledges it, and when they are on site
// and close it: within the acknowledgement deadline of a fall (5 min), and
// after the way there.
const (
	ackAfter   = 3 * time.Minute
	visitAfter = 45 * time.Minute
)

// workers answer the tasks they are sent to, as the truth says: a worker
// who finds an incident resolves the task needs_help, one who finds nothing
// false_alarm. Closed tasks let the household's next alarm open a task of
// its own, as in the field; left open, every later alarm of the rule would
// only add evidence to the first and go uncounted.
type workers struct {
	api         *simulator.Client
	m           *app.Monitor
	answers     *answerer
	truth       []simulator.Truth
	byHousehold map[string][]int
	log         *slog.Logger
	// failed counts actions the monitor refused: a task escalated or
	// handed on meanwhile is no reason to stop measuring.
	failed int
}

func (ws *workers) act(ctx context.Context, due []action) {
	for _, a := range due {
		var err error
		switch {
		case a.check != nil:
			_, err = ws.m.AnswerCheck(ctx, a.task.ID, *a.check)
		case !a.visit:
			err = ws.api.Ack(ctx, a.task.ID, a.task.assignee)
		default:
			outcome, note, reason := "false_alarm", "nothing wrong found (simulated)", ""
			switch {
			case cause(ws.truth, ws.byHousehold, a.task) < 0:
				if a.task.Visit() {
					reason = ws.answers.reason(a.task)
				}
			case a.task.Visit():
				outcome, note = "needs_help", "found in need (simulated)"
			default:
				outcome, note = "other", "device seen to (simulated)"
			}
			if err = ws.api.CheckIn(ctx, a.task.ID, a.task.assignee); err == nil {
				err = ws.api.ResolveFor(ctx, a.task.ID, a.task.assignee, outcome, reason, note)
			}
		}
		if err != nil {
			ws.failed++
			ws.log.Warn("a simulated worker's action was refused", "task_id", a.task.ID, "rule", a.task.Rule, "err", err)
		}
	}
}

// action is what a worker (or the resident, or the family) does next about
// a task.
type action struct {
	at    time.Time
	task  Task
	visit bool // on site and resolve; else acknowledge
	// check, when set, answers a verifying task's check instead.
	check *tasks.AnswerRequest
}

func (d *direct) Flush(ctx context.Context) error {
	if d.last == nil {
		return nil
	}
	select {
	case <-d.last:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watcher keeps what the monitor reports of each task, and what the workers
// sent to them have to do.
type watcher struct {
	answers *answerer
	mu      sync.Mutex
	seen    map[string]*Task
	ids     []string
	pending []action // in time order
}

// due takes the actions due by now.
func (w *watcher) due(now time.Time) []action {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(w.pending) && !w.pending[n].at.After(now) {
		n++
	}
	due := slices.Clone(w.pending[:n])
	w.pending = w.pending[n:]
	return due
}

func (w *watcher) change(t tasks.Task, event string, now time.Time) {
	if t.Kind == rules.RoutineVisit {
		return // scheduled, not raised: neither a true nor a false alarm
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]*Task{}
	}
	seen, ok := w.seen[t.ID]
	if !ok {
		seen = &Task{ID: t.ID, HouseholdID: t.HouseholdID, Rule: t.Rule, Kind: string(t.Kind), Raised: t.OpenedAt}
		w.seen[t.ID] = seen
		w.ids = append(w.ids, t.ID)
	}
	if !ok && t.State == tasks.Verifying && w.answers != nil && t.VerifyUntil != nil {
		if at, req, answered := w.answers.answer(*seen, *t.VerifyUntil); answered {
			w.schedule(action{at: at, task: *seen, check: &req})
		}
	}
	if seen.Sent.IsZero() && t.State == tasks.Open {
		seen.Sent = now
		if event == tasks.ChangeOpened {
			seen.Sent = t.OpenedAt
		}
		if seen.assignee = t.AssigneeID; seen.assignee != "" {
			w.schedule(action{at: seen.Sent.Add(ackAfter), task: *seen})
			w.schedule(action{at: seen.Sent.Add(visitAfter), task: *seen, visit: true})
		}
	}
}

func (w *watcher) setAnswerer(a *answerer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answers = a
}

func (w *watcher) schedule(a action) {
	i := sort.Search(len(w.pending), func(i int) bool { return w.pending[i].at.After(a.at) })
	w.pending = slices.Insert(w.pending, i, a)
}

// tasks lists the tasks in the order they were raised.
func (w *watcher) tasks() []Task {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Task, len(w.ids))
	for i, id := range w.ids {
		out[i] = *w.seen[id]
	}
	return out
}

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
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/ingest"
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
}

// Task is one task as the run saw it.
type Task struct {
	ID, HouseholdID, Rule, Kind string
	// Raised is when the task was created, in whatever state; Sent when it
	// first stood open, assigned and notified: a worker was sent. Sent is
	// zero for a task settled before that (a resident who answered a check).
	Raised, Sent time.Time
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
	var w watcher
	m.WatchTasks(w.change)
	obs, err := run(ctx, m, cfg.MQTT.Prefix, m.AdminToken(), sc, log, progress)
	if cerr := m.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("trust: close the monitor: %w", cerr)
	}
	obs.Tasks = w.tasks()
	return obs, err
}

func run(ctx context.Context, m *app.Monitor, prefix, token string, sc *simulator.Scenario, log *slog.Logger, progress io.Writer) (Observed, error) {
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
	pub := &direct{m: m}
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
	log.Info("population run", "households", len(n.Households), "messages", res.Messages, "rejected", pub.rejected, "took", res.Wall.Round(time.Millisecond))
	return Observed{
		Truth: world.Truth(), Households: len(n.Households), Span: world.End().Sub(world.Start()),
		Messages: res.Messages, Wall: res.Wall,
	}, nil
}

// direct hands the simulator's messages to the monitor in process.
type direct struct {
	m *app.Monitor
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
	return nil
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

// watcher keeps what the monitor reports of each task.
type watcher struct {
	mu   sync.Mutex
	seen map[string]*Task
	ids  []string
}

func (w *watcher) change(t tasks.Task, event string, now time.Time) {
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
	if seen.Sent.IsZero() && t.State == tasks.Open {
		seen.Sent = now
		if event == tasks.ChangeOpened {
			seen.Sent = t.OpenedAt
		}
	}
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

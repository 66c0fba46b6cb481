package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config is a whole simulation against a running monitor: provision, set the
// clock, publish, and check what opened.
type Config struct {
	Scenario *Scenario
	// MQTTURL is the broker (tcp://127.0.0.1:1883); APIURL the monitor's
	// HTTP API (http://127.0.0.1:8080); Token its admin token.
	MQTTURL, APIURL, Token string
	// TopicPrefix is the monitor's mqtt.prefix (eldersafe/v1).
	TopicPrefix string
	// IDPrefix starts every id the simulator registers ("sim-").
	IDPrefix string
	// Auth and Connections: see MQTTOptions.
	Auth        string
	Connections int
	// Speed: simulated seconds per wall second; 0 as fast as possible.
	Speed float64
	// Sync and SyncEvery: see RunOptions. Runs at speed 0 want it.
	Sync      bool
	SyncEvery time.Duration
	// MaxAhead: see RunOptions.
	MaxAhead int
	// Provision registers grids, workers, households and devices first.
	Provision bool
	// Expect checks the scenario's expectations at the end.
	Expect bool
	// Parallel is how many API requests and MQTT connects run at a time.
	Parallel int
	// Progress gets load figures (RunOptions.Progress); Out the report.
	Progress io.Writer
	Out      io.Writer
	Logger   *slog.Logger
	// Publisher replaces MQTT (tests capture messages with it).
	Publisher Publisher
}

// Outcome is what a simulation did.
type Outcome struct {
	Result Result
	// Report is set when the expectations were checked.
	Report *Report
}

// Simulate runs a scenario against a monitor. It returns an error when the
// simulation could not run; expectations that were not met are in the
// Outcome's Report.
func Simulate(ctx context.Context, cfg Config) (Outcome, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	log := cfg.Logger
	sc := cfg.Scenario
	w, err := NewWorld(sc, cfg.TopicPrefix, cfg.IDPrefix)
	if err != nil {
		return Outcome{}, err
	}
	if cfg.Expect && sc.Duration == 0 {
		return Outcome{}, errors.New("checking expectations needs a run with an end: give a duration")
	}
	api, err := NewClient(cfg.APIURL, cfg.Token)
	if err != nil {
		return Outcome{}, err
	}
	// The clock first: devices registered next are expected from the start.
	now, err := api.Clock(ctx, w.Start())
	switch {
	case errors.Is(err, ErrWallClock):
		if cfg.Speed != 1 || w.Start().Before(time.Now().Add(-time.Minute)) {
			return Outcome{}, fmt.Errorf("%w; or run the simulator at --speed 1 --start now", err)
		}
		log.Warn("the monitor runs on the wall clock: the simulation runs in real time")
	case err != nil:
		return Outcome{}, fmt.Errorf("set the monitor's clock: %w", err)
	case now.After(w.Start()):
		return Outcome{}, fmt.Errorf("the monitor's event clock is at %s, after the run's start %s, and never goes back: start the monitor on a fresh data dir, or give --start after its clock (with another --id-prefix if these households exist)",
			now.Format(time.RFC3339), w.Start().Format(time.RFC3339))
	}
	n := w.Neighbourhood()
	devices := 0
	for _, h := range n.Households {
		devices += len(h.Devices)
	}
	if cfg.Provision {
		began := time.Now()
		if err := Provision(ctx, api, n, sc.Seed, cfg.Parallel, log); err != nil {
			return Outcome{}, err
		}
		log.Info("provisioned", "households", len(n.Households), "devices", devices, "grids", len(n.Grids()), "took", time.Since(began).Round(time.Millisecond))
	}
	pub := cfg.Publisher
	if pub == nil {
		opts := MQTTOptions{
			URL: cfg.MQTTURL, Auth: cfg.Auth, Connections: cfg.Connections, Token: cfg.Token,
			ClientIDPrefix: cfg.IDPrefix, Parallel: cfg.Parallel, Logger: log,
		}
		if cfg.Auth == AuthDevices {
			opts.Secrets = make(map[string]string, devices)
			for _, h := range n.Households {
				for _, d := range h.Devices {
					if d.GatewayID == "" { // the others' gateway publishes for them
						opts.Secrets[d.ID] = Secret(sc.Seed, d.ID)
					}
				}
			}
		}
		began := time.Now()
		mp, err := DialMQTT(ctx, opts)
		if err != nil {
			return Outcome{}, err
		}
		defer mp.Close()
		log.Info("connected", "broker", cfg.MQTTURL, "auth", cfg.Auth, "took", time.Since(began).Round(time.Millisecond))
		pub = mp
	}
	log.Info("simulating", "scenario", sc.Name, "households", len(n.Households), "start", w.Start().Format(time.RFC3339), "end", w.End().Format(time.RFC3339), "speed", cfg.Speed, "seed", sc.Seed)
	res, err := Run(ctx, RunOptions{
		World: w, Publisher: pub, Monitor: api, TopicPrefix: cfg.TopicPrefix,
		Speed: cfg.Speed, Sync: cfg.Sync, SyncEvery: cfg.SyncEvery, MaxAhead: cfg.MaxAhead,
		Progress: cfg.Progress, Logger: log,
	})
	out := Outcome{Result: res}
	if err != nil || ctx.Err() != nil {
		return out, err
	}
	log.Info("simulation done", "messages", res.Messages, "ticks", res.Ticks, "took", res.Wall.Round(time.Millisecond))
	if end := w.End(); !end.IsZero() {
		// Over HTTP the tick is applied before the answer: every deadline up
		// to the end has fired once it returns.
		if _, err := api.Clock(ctx, end); err != nil && !errors.Is(err, ErrWallClock) {
			return out, fmt.Errorf("set the monitor's clock to the end: %w", err)
		}
	}
	if !cfg.Expect {
		return out, nil
	}
	ids := make([]string, len(n.Households))
	for i, h := range n.Households {
		ids[i] = h.FullID
	}
	tasks, err := api.Tasks(ctx, ids)
	if err != nil {
		return out, fmt.Errorf("check expectations: %w", err)
	}
	report := Check(sc, w.Anchors(), cfg.IDPrefix, tasks)
	report.Write(cfg.Out)
	out.Report = &report
	return out, nil
}

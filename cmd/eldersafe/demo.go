package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/simulator"
)

// demoFlags are `eldersafe demo`'s flags.
type demoFlags struct {
	httpAddr, brokerAddr, dataDir string
	speed                         float64
	scenario                      string
}

func demoCommand() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the monitor with a simulated neighbourhood, so tasks open within a minute",
		Long: `demo starts the monitor on embedded defaults under the event clock (embedded
broker, SQLite in a temporary directory unless --data-dir is given) and, in
the same process, the simulator with the built-in demo scenario: 20 households
over one simulated day at an hour a second, with a fall, an SOS press, a tap
left running and a resident who stops moving. Notices go to the log. It prints
the console's address, log-ins for a demo operator, grid worker and family
member, and the admin token, and serves until Ctrl-C. Task deadlines are
multiplied by --speed, so a task stays acknowledgeable for as long in real
time as it would in production.`,
		Args: cobra.NoArgs,
		// Errors are printed once, by main; a usage text would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP API and console address")
	fs.StringVar(&f.brokerAddr, "broker-addr", "127.0.0.1:1883", "embedded MQTT broker address")
	fs.StringVar(&f.dataDir, "data-dir", "", "where the database lives (default: a temporary directory, removed on exit)")
	fs.Float64Var(&f.speed, "speed", 3600, "simulated seconds per second; 0 runs the day as fast as possible")
	fs.StringVar(&f.scenario, "scenario", "demo", "scenario to run, a file or a name from the library")
	return cmd
}

func runDemo(cmd *cobra.Command, f demoFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if !(f.speed >= 0) || math.IsInf(f.speed, 0) { // NaN fails too
		return fmt.Errorf("demo: --speed %g: want 0 (as fast as possible) or more", f.speed)
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	sc, err := simulator.Load(f.scenario)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	dir := f.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "eldersafe-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	token, err := registry.NewSecret()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg := app.DefaultConfig()
	cfg.Clock, cfg.Simulation = app.ClockEvent, true
	cfg.HTTP.Addr = f.httpAddr
	cfg.MQTT.Broker.Addr = f.brokerAddr
	cfg.DataDir = dir
	cfg.Auth.AdminToken = token
	cfg.Tasks = demoDeadlines(cfg.Tasks, f.speed)
	// Ctrl-C: say so at once, for stopping takes a moment.
	interrupted := context.AfterFunc(ctx, func() { fmt.Fprintln(out, "\nShutting down...") })
	defer interrupted()
	// A simulation that fails stops the demo.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		sim    sync.WaitGroup
		simErr error
	)
	err = app.Run(ctx, cfg, log, io.Discard, func(m *app.Monitor) {
		sim.Go(func() {
			if simErr = simulate(ctx, m, sc, cfg, token, f.speed, out, log); simErr != nil {
				stop(simErr)
			}
		})
	})
	sim.Wait()
	if err = errors.Join(simErr, err); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(out, "Stopped.")
	return nil
}

// maxDemoDeadline bounds a scaled deadline, far beyond any demo's length.
const maxDemoDeadline = 10 * 365 * 24 * time.Hour

// demoDeadlines multiplies the task deadlines by the demo's speed, so that a
// task waits as long in real time as it would in production: at 3600× a
// critical task's 5 minutes would pass in a twelfth of a second, before
// anyone could acknowledge it in the console. At speed 0 (as fast as
// possible) and up to 1× they stay.
func demoDeadlines(t app.TasksConfig, speed float64) app.TasksConfig {
	if speed <= 1 {
		return t
	}
	scale := func(d time.Duration) time.Duration {
		return time.Duration(min(float64(d)*speed, float64(maxDemoDeadline)))
	}
	a := &t.AckDeadline
	a.Critical, a.High, a.Medium, a.Low = scale(a.Critical), scale(a.High), scale(a.Medium), scale(a.Low)
	t.ResolveDeadline = scale(t.ResolveDeadline)
	return t
}

// simulate registers the neighbourhood and the demo's users, prints where
// everything is and how to log in, and runs the scenario against m; once
// the simulated day is over the monitor keeps serving until Ctrl-C.
func simulate(ctx context.Context, m *app.Monitor, sc *simulator.Scenario, cfg app.Config, token string, speed float64, out io.Writer, log *slog.Logger) error {
	api := "http://" + m.HTTPAddr()
	client, err := simulator.NewClient(api, token)
	if err != nil {
		return err
	}
	w, err := simulator.NewWorld(sc, cfg.MQTT.Prefix, simulator.DemoIDPrefix)
	if err != nil {
		return err
	}
	users, err := simulator.SetUpDemo(ctx, client, w, sc, log)
	if err != nil {
		return err
	}
	logins := make([]string, len(users))
	for i, u := range users {
		logins[i] = u.String()
	}
	deadlines := "Deadlines are multiplied by the speed: a task waits as long in real time as it would in production."
	if speed <= 1 {
		deadlines = "Deadlines run on simulated time."
	}
	fmt.Fprintf(out, `
eldersafe demo: the monitor and %d simulated households, %s at %gx

    console      %s/
    log in as    %s
    API          %s/api/v1  (Authorization: Bearer %s)
    admin token  %s
    broker       tcp://%s
    data         %s

Tasks open within a minute; notices are written to the log below. %s Ctrl-C stops.

`, len(sc.HouseholdIDs()), simulator.FormatDuration(sc.Duration), speed, api, strings.Join(logins, "\n                 "),
		api, token, token, m.BrokerAddr(), cfg.DataDir, deadlines)

	res, err := simulator.Simulate(ctx, simulator.Config{
		Scenario: sc, MQTTURL: "tcp://" + m.BrokerAddr(), APIURL: api, Token: token,
		TopicPrefix: cfg.MQTT.Prefix, IDPrefix: simulator.DemoIDPrefix, Auth: simulator.AuthDevices,
		Speed: speed, Sync: speed == 0, Expect: true,
		Out: out, Logger: log,
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe simulated day is over (%d device messages). Still serving %s/ until Ctrl-C.\n", res.Result.Messages, api)
	return nil
}

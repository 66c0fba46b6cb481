package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
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
the console's address and the admin token, and serves until Ctrl-C.`,
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
	token, err := newToken()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg := app.DefaultConfig()
	cfg.Clock, cfg.Simulation = app.ClockEvent, true
	cfg.HTTP.Addr = f.httpAddr
	cfg.MQTT.Broker.Addr = f.brokerAddr
	cfg.DataDir = dir
	cfg.Auth.AdminToken = token
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
	return nil
}

// simulate prints where everything is and runs the scenario against m; once
// the simulated day is over the monitor keeps serving until Ctrl-C.
func simulate(ctx context.Context, m *app.Monitor, sc *simulator.Scenario, cfg app.Config, token string, speed float64, out io.Writer, log *slog.Logger) error {
	api := "http://" + m.HTTPAddr()
	fmt.Fprintf(out, `
eldersafe demo: the monitor and %d simulated households, %s at %gx

    console      %s/
    API          %s/api/v1  (Authorization: Bearer %s)
    admin token  %s
    broker       tcp://%s
    data         %s

Tasks open within a minute; notices are written to the log below. Ctrl-C stops.

`, len(sc.HouseholdIDs()), simulator.FormatDuration(sc.Duration), speed, api, api, token, token, m.BrokerAddr(), cfg.DataDir)

	res, err := simulator.Simulate(ctx, simulator.Config{
		Scenario: sc, MQTTURL: "tcp://" + m.BrokerAddr(), APIURL: api, Token: token,
		TopicPrefix: cfg.MQTT.Prefix, IDPrefix: "sim-", Auth: simulator.AuthDevices,
		Speed: speed, Sync: speed == 0, Provision: true, Expect: true,
		Out: out, Logger: log,
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe simulated day is over (%d device messages). Still serving %s/ until Ctrl-C.\n", res.Result.Messages, api)
	return nil
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/simulator"
)

// simulateFlags are `eldersafe simulate`'s flags; docs/simulator.md
// describes each.
type simulateFlags struct {
	mqttURL, apiURL, token string
	households             int
	speed                  float64
	seed                   uint64
	scenario               string
	expect                 bool
	start, duration        string
	csv                    string
	auth                   string
	connections            int
	load                   bool
	idPrefix, prefix       string
	provision              bool
	sync                   bool
	syncEvery              time.Duration
	maxAhead               int
	report, chart          string
}

func simulateCommand() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run virtual households that publish over MQTT like real devices (docs/simulator.md)",
		Long: `simulate provisions virtual households through the monitor's API and publishes
their devices' messages over MQTT, in simulated time: --speed 3600 runs an hour
a second. Start the monitor with --clock event --simulation so that it follows.

A scenario (--scenario FILE, or a name from the built-in library: ` + fmt.Sprint(simulator.Library()) + `)
scripts incidents and lists the tasks the monitor must open; --expect checks
them at the end and exits non-zero on a miss or an unexpected task.

--report FILE instead runs the scenario through a monitor of its own in this
process, as configured and with the fixed rules alone, and writes the trust
report: how many workers each rule sent and how many found an incident
(docs/trust.md); e.g. --scenario population_month --report trust.json.`,
		Args: cobra.NoArgs,
		// Errors are printed once, by main; a usage text would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runSimulate(cmd, f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.mqttURL, "mqtt-url", "tcp://127.0.0.1:1883", "MQTT broker the monitor reads")
	fs.StringVar(&f.apiURL, "api-url", "http://127.0.0.1:8080", "the monitor's HTTP API")
	fs.StringVar(&f.token, "token", os.Getenv("ELDERSAFE_AUTH_ADMIN_TOKEN"), "the monitor's admin token (default $ELDERSAFE_AUTH_ADMIN_TOKEN)")
	fs.IntVar(&f.households, "households", 10, "households h1..hN (overrides the scenario's count)")
	fs.Float64Var(&f.speed, "speed", 3600, "simulated seconds per second; 0 runs as fast as the monitor takes it")
	fs.Uint64Var(&f.seed, "seed", simulator.DefaultSeed, "seed of every random draw (overrides the scenario's)")
	fs.StringVar(&f.scenario, "scenario", "", "scenario file, or a name from the library")
	fs.BoolVar(&f.expect, "expect", false, "check the scenario's expectations at the end; exit 1 on a miss or an unexpected task")
	fs.StringVar(&f.start, "start", simulator.DefaultStart, "simulated start: RFC 3339, a date, or now (overrides the scenario's)")
	fs.StringVar(&f.duration, "duration", "", "how long to simulate, e.g. 36h or 7d (default: the scenario's; without one, until stopped)")
	fs.StringVar(&f.csv, "csv", "", "write the households and devices (with their secrets) to this CSV file and exit, instead of provisioning")
	fs.StringVar(&f.auth, "auth", simulator.AuthDevices, "devices: one MQTT connection per device with its secret; none: a few shared connections, for a broker running mqtt.broker.auth: none")
	fs.IntVar(&f.connections, "connections", 4, "shared MQTT connections under --auth none")
	fs.BoolVar(&f.load, "load", false, "load run: report messages/s sent and handled every 5 s and at the end; never waits for the monitor (no --sync)")
	fs.StringVar(&f.idPrefix, "id-prefix", "sim-", "prefix of every id registered (households, devices, grids, workers)")
	fs.StringVar(&f.prefix, "prefix", "eldersafe/v1", "MQTT topic prefix (the monitor's mqtt.prefix)")
	fs.BoolVar(&f.provision, "provision", true, "register grids, workers, households and devices through the API first")
	fs.BoolVar(&f.sync, "sync", false, "wait for the monitor every --sync-every of simulated time (default: on at --speed 0 unless --load)")
	fs.DurationVar(&f.syncEvery, "sync-every", simulator.DefaultSyncEvery, "simulated time between waits for the monitor under --sync")
	fs.IntVar(&f.maxAhead, "max-ahead", 4000, "at --speed 0 without --sync (or when given): most messages sent and not yet handled by the monitor (0: no bound)")
	fs.StringVar(&f.report, "report", "", "measure the scenario through a monitor of its own in process, as configured and with the fixed rules alone, and write the trust report (JSON) here; the tables go to stdout (docs/trust.md)")
	fs.StringVar(&f.chart, "chart", "", "with --report: write the report's chart (SVG) here")
	fs.String("config", defaultConfigFile, "with --report: the monitor's config file (YAML) to measure; a missing default file means embedded defaults")
	return cmd
}

func runSimulate(cmd *cobra.Command, f simulateFlags) error {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	sc, err := scenarioFromFlags(cmd, f)
	if err != nil {
		return err
	}
	if f.csv != "" {
		return writeCSV(f, sc)
	}
	if f.report != "" {
		return runReport(cmd, f, sc)
	}
	if f.chart != "" {
		return errors.New("simulate: --chart goes with --report")
	}
	if f.token == "" {
		return errors.New("simulate: --token (or ELDERSAFE_AUTH_ADMIN_TOKEN) is required: the admin token of the monitor")
	}
	if f.speed < 0 {
		return fmt.Errorf("simulate: --speed %g: want 0 (as fast as possible) or more", f.speed)
	}
	if f.load && f.expect {
		return errors.New("simulate: --load measures throughput and does not wait for the monitor; it cannot --expect")
	}
	sync := f.sync || (f.speed == 0 && !f.load && !cmd.Flags().Changed("sync"))
	cfg := simulator.Config{
		Scenario: sc, MQTTURL: f.mqttURL, APIURL: f.apiURL, Token: f.token,
		TopicPrefix: f.prefix, IDPrefix: f.idPrefix, Auth: f.auth, Connections: f.connections,
		Speed: f.speed, Sync: sync, SyncEvery: f.syncEvery,
		Provision: f.provision, Expect: f.expect,
		Out: cmd.OutOrStdout(), Logger: log,
	}
	// As fast as possible needs a bound, or the broker drops what the
	// monitor cannot take; at a set speed the run is open loop unless asked,
	// since each check is a /metrics scrape, costly with many households.
	if !sync && (f.speed == 0 || cmd.Flags().Changed("max-ahead")) {
		cfg.MaxAhead = f.maxAhead
	}
	if f.load {
		cfg.Progress = cmd.OutOrStdout()
	}
	out, err := simulator.Simulate(cmd.Context(), cfg)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if r := out.Report; r != nil && !r.OK() {
		return fmt.Errorf("simulate: %s: %d expectation(s) missed, %d unexpected task(s)", sc.File(), len(r.Missed), len(r.Unexpected))
	}
	return nil
}

// scenarioFromFlags loads the scenario (or makes one of --households) and
// applies the flags given explicitly on top of it.
func scenarioFromFlags(cmd *cobra.Command, f simulateFlags) (*simulator.Scenario, error) {
	changed := cmd.Flags().Changed
	sc := simulator.NewScenario(f.households)
	if f.scenario != "" {
		var err error
		if sc, err = simulator.Load(f.scenario); err != nil {
			return nil, err
		}
	}
	if changed("households") || f.scenario == "" {
		if f.households < 1 {
			return nil, fmt.Errorf("--households %d: want at least 1", f.households)
		}
		sc.Count = f.households
	}
	if changed("seed") {
		sc.Seed = f.seed
	}
	if changed("start") {
		t, err := simulator.ParseStart(f.start, sc.Location, time.Now)
		if err != nil {
			return nil, fmt.Errorf("--start: %w", err)
		}
		sc.Start = t
	}
	if changed("duration") {
		d, err := simulator.ParseDuration(f.duration)
		if err != nil {
			return nil, fmt.Errorf("--duration: %w", err)
		}
		sc.Duration = d
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

func writeCSV(f simulateFlags, sc *simulator.Scenario) error {
	w, err := simulator.NewWorld(sc, f.prefix, f.idPrefix)
	if err != nil {
		return err
	}
	file, err := os.Create(f.csv)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := simulator.WriteCSV(file, w.Neighbourhood(), sc.Seed); err != nil {
		file.Close()
		return fmt.Errorf("simulate: %s: %w", f.csv, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("simulate: %s: %w", f.csv, err)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/hugepages"
	"github.com/eldersafe/eldersafe/memlimit"
)

func serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the monitor: MQTT ingest, rules, tasks, notifications and the HTTP API",
		Long: `Run the monitor: MQTT ingest, rules, tasks, notifications and the HTTP API.

The config file is watched: when it changes it is read and validated again
exactly as at start (file, then ELDERSAFE_* variables, then flags). A valid
change applies the rules thresholds at once and logs which other settings
wait for a restart; an invalid one is logged and the last good config stays.

--clock event (the monitor follows the time devices and the simulator's
ticks carry) is for simulations and needs --simulation too: in production
it would let any device move the monitor's time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg)
			reserved := reserveHugePages(cfg, logger)
			return app.Run(cmd.Context(), cfg, logger, cmd.ErrOrStderr(), func(m *app.Monitor) {
				if err := reserved.Done(); err != nil {
					logger.Warn("heap still advised for huge pages; at rest the kernel may keep more of it resident", "err", err)
				}
				startMemoryLimit(cmd.Context(), cfg.Memory, logger)
				fmt.Fprint(cmd.ErrOrStderr(), consoleBanner(m.HTTPAddr()))
				if file, ok := configFile(cmd); ok {
					watchConfig(cmd.Context(), file, func() (app.Config, error) { return loadConfig(cmd) }, m.Reload, logger)
				}
			})
		},
	}
	addConfigFlags(cmd.Flags())
	cmd.Flags().Bool(simulationFlag, false, "allow --clock event, for a simulation (eldersafe simulate); never in production")
	return cmd
}

// startMemoryLimit keeps the heap's headroom at memory.headroom_ratio of
// its live size, widened under load up to memory.headroom_load_ratio, until
// ctx ends, from the moment the monitor is up. Not while
// it loads its state: the heap then grows faster than the limit follows it,
// and the collector ran back to back (a restart at 1,000,000 households took
// 40 CPU-seconds instead of 22, docs/performance.md). Here and not in app:
// the limit is the process's, and tests run several monitors in one.
func startMemoryLimit(ctx context.Context, c app.MemoryConfig, logger *slog.Logger) {
	if c.HeadroomRatio == 0 {
		return
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		logger.Info("GOMEMLIMIT is set: memory.headroom_ratio and headroom_load_ratio are not applied")
		return
	}
	// Under load a collection every minute, not every 30 s: at 1,000,000
	// households each marks about 2 GB, and the minute took a sixth of the
	// monitor's CPU less for 0.4 GB more at the peak; two minutes took no
	// less (docs/performance.md, "Fortieth round").
	go memlimit.Run(ctx, memlimit.Options{
		Ratio:     c.HeadroomRatio,
		LoadRatio: c.HeadroomLoadRatio,
		Cycle:     time.Minute,
		RateOver:  5 * time.Second,
		Min:       uint64(c.HeadroomMinMB) << 20,
		Every:     time.Second,
	})
}

// hugeHeapPerSnapshotByte is how much heap a start reserves in huge pages
// for each byte of the snapshot it will read. The heap a restart built was
// 1.3–1.7 times its snapshot (1.1–1.2 GB from 706 MB at 1,000,000
// households; 194 MB from 150 MB at 100,000 after a simulated day); what
// the reserve holds past the heap is address space until touched.
const hugeHeapPerSnapshotByte = 2

// reserveHugePages has the heap that the start is about to build from its
// snapshot backed by huge pages (memory.huge_pages), until the monitor is
// up and the reserve's Done. Without a snapshot file (a first start) there
// is nothing to size it by; after a crash the last clean stop's sizes it,
// and the state read from the store fills it.
func reserveHugePages(cfg app.Config, logger *slog.Logger) hugepages.Reserved {
	if !cfg.Memory.HugePages {
		return hugepages.Reserved{}
	}
	info, err := os.Stat(cfg.SnapshotPath())
	if err != nil {
		return hugepages.Reserved{}
	}
	reserved, err := hugepages.Reserve(int(hugeHeapPerSnapshotByte * info.Size()))
	if err != nil {
		logger.Info("heap not reserved in huge pages; the start faults it in 4 KiB at a time", "err", err)
		return hugepages.Reserved{}
	}
	logger.Debug("heap reserved in huge pages", "bytes", reserved.Size())
	return reserved
}

// consoleBanner says where the console is and how to get a log-in: the
// console has no user until someone registers one with the admin token.
func consoleBanner(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || net.ParseIP(host).IsUnspecified()) {
		addr = net.JoinHostPort("localhost", port) // listening on every address
	}
	return fmt.Sprintf(`
Console: http://%[1]s/
Log in with a user registered by an operator or with the admin token
(auth.admin_token, or the one printed at the first start), e.g.:

    curl -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"id":"op1","password":"at-least-12-chars","role":"operator"}' http://%[1]s/api/v1/users

`, addr)
}

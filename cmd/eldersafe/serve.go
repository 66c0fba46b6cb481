package main

import (
	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
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
			return app.Run(cmd.Context(), cfg, logger, cmd.ErrOrStderr(), func(m *app.Monitor) {
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

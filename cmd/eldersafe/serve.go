package main

import (
	"fmt"
	"net"

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

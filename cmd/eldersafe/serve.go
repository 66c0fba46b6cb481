package main

import (
	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
)

func serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the monitor: MQTT ingest, rules, tasks, notifications and the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, newLogger(cfg), cmd.ErrOrStderr())
		},
	}
	addConfigFlags(cmd.Flags())
	return cmd
}

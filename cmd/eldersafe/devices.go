package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
)

func devicesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "Tools for registered devices",
	}
	export := &cobra.Command{
		Use:   "export-mosquitto DIR",
		Short: "Write a Mosquitto password_file and acl_file enforcing the embedded broker's device rules",
		Long: `Write DIR/password_file, DIR/acl_file and DIR/eldersafe.conf for an external
Mosquitto: every registered device logs in with its id and secret and may
publish only under its own id, and a gateway (or a Tasmota plug) to the
source topics of its devices (sources.* enabled); the monitor (mqtt.username,
mqtt.password) reads every device and source; the simulator (eldersafe-sim,
the admin token) sends clock ticks. Run it again after registering devices,
then reload Mosquitto (SIGHUP).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := app.ExportMosquitto(cmd.Context(), cfg, args[0], newLogger(cfg)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/{password_file,acl_file,eldersafe.conf}\n", args[0])
			return nil
		},
	}
	addConfigFlags(export.Flags())
	cmd.AddCommand(export)
	return cmd
}

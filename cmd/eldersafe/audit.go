package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
)

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Tools for the audit log of personal data access",
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's hash chain; exit 1 naming the first entry altered, inserted or removed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			n, err := app.VerifyAudit(cmd.Context(), cfg, newLogger(cfg))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit log intact: %d entries\n", n)
			return nil
		},
	}
	addConfigFlags(verify.Flags())
	cmd.AddCommand(verify)
	return cmd
}

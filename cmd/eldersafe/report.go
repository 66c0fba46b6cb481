package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/simulator"
	"github.com/eldersafe/eldersafe/trust"
)

// runReport measures the scenario's population twice through a monitor in
// process, as configured (--config, ELDERSAFE_*) and with the fixed rules
// alone, and writes the trust report (docs/trust.md): JSON to --report, the
// tables to stdout, the chart to --chart.
func runReport(cmd *cobra.Command, f simulateFlags, sc *simulator.Scenario) error {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError})) // its warnings are of a temporary store
	v, err := configViper(cmd)
	if err != nil {
		return err
	}
	cfg, err := decode(v)
	if err != nil {
		return err
	}
	var applied, unknown []string
	keys := v.AllKeys()
	for _, s := range trust.FixedRules {
		if !slices.Contains(keys, s.Key) {
			unknown = append(unknown, s.Key)
			continue
		}
		v.Set(s.Key, s.Value)
		applied = append(applied, fmt.Sprintf("%s=%v", s.Key, s.Value))
	}
	fixedCfg, err := decode(v)
	if err != nil {
		return fmt.Errorf("report: the fixed rules' config: %w", err)
	}
	ctx := cmd.Context()
	out := cmd.ErrOrStderr()
	fmt.Fprintf(out, "measuring %s: %d households, %s, seed %d, as configured\n", sc.Name, len(sc.HouseholdIDs()), simulator.FormatDuration(sc.Duration), sc.Seed)
	configured, err := trust.Measure(ctx, cfg, sc, log, out)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fixed := configured
	if len(applied) > 0 {
		fmt.Fprintf(out, "measuring the fixed rules alone (%v)\n", applied)
		if fixed, err = trust.Measure(ctx, fixedCfg, sc, log, out); err != nil {
			return fmt.Errorf("report: fixed rules: %w", err)
		}
	} else {
		fmt.Fprintf(out, "this build has none of the fixed rules' switches (%v): the configured run is the fixed one\n", unknown)
	}
	report := trust.Compare(sc, configured, fixed, applied, unknown)
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(f.report, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if f.chart != "" {
		if err := os.WriteFile(f.chart, trust.Chart(report), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return report.WriteMarkdown(cmd.OutOrStdout())
}

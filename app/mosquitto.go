package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	"github.com/eldersafe/eldersafe/broker"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/store"
)

// ExportMosquitto writes the files an external Mosquitto needs to enforce
// the embedded broker's rules for every device registered under cfg's data
// dir: its password_file, acl_file and a config snippet.
func ExportMosquitto(ctx context.Context, cfg Config, dir string, logger *slog.Logger) error {
	db, err := store.Open(ctx, cfg.DataDir, logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	devices, err := db.Devices(ctx)
	if err != nil {
		return err
	}
	hashes := make(map[string]string, len(devices))
	sources := cfg.Sources.Ingest()
	// Who may publish to the enabled sources' topics: a device's gateway, or
	// the device itself; and every gateway to its own (bridge) topics.
	publishers := map[string][]string{}
	add := func(id string, filters []string) {
		if len(filters) > 0 {
			publishers[id] = append(publishers[id], filters...)
		}
	}
	for _, d := range devices {
		hashes[d.ID] = d.SecretHash
		if d.Kind == registry.Gateway {
			add(d.ID, sources.GatewayFilters())
		}
		add(cmp.Or(d.GatewayID, d.ID), sources.PublishFilters(d))
	}
	alarm, telemetry := sources.Filters()
	token := cfg.Auth.AdminToken
	if token == "" {
		if token, _, err = db.AdminToken(ctx); err != nil {
			return fmt.Errorf("load admin token: %w", err)
		}
	}
	return broker.WriteMosquittoFiles(dir, broker.MosquittoCredentials{
		Prefix:          cfg.MQTT.Prefix,
		Devices:         hashes,
		MonitorUsername: cfg.MQTT.Username,
		MonitorPassword: cfg.MQTT.Password,
		SimPassword:     token,
		SourceFilters:   append(alarm, telemetry...),
		Publishers:      publishers,
	})
}

package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/eldersafe/eldersafe/broker"
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
	for _, d := range devices {
		hashes[d.ID] = d.SecretHash
	}
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
	})
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/store"
)

// VerifyAudit recomputes the audit chain in the store under cfg's data dir.
// It returns how many entries are intact, or an error naming the first entry
// that was altered, inserted or removed (an *audit.BrokenError).
func VerifyAudit(ctx context.Context, cfg Config, logger *slog.Logger) (int64, error) {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, keyring.FileName)); cfg.Security.Key == "" && err != nil {
		return 0, fmt.Errorf("no key in security.key or %s: this is not the data directory of a monitor that has run", filepath.Join(cfg.DataDir, keyring.FileName))
	}
	keys, err := keyring.Load(cfg.Security.Key, cfg.DataDir)
	if err != nil {
		return 0, err
	}
	db, err := store.Open(ctx, cfg.DataDir, logger)
	if err != nil {
		return 0, fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	return db.VerifyAudit(ctx, keys.Audit)
}

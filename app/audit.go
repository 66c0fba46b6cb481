package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/store"
)

// VerifyAudit recomputes the audit chain in the store under cfg's data dir.
// It returns how many entries are intact, or an error naming the first entry
// that was altered, inserted or removed (an *audit.BrokenError), or, when
// nothing in the log verifies under the key, one naming where the key came
// from (audit.ErrKeyMismatch).
func VerifyAudit(ctx context.Context, cfg Config, logger *slog.Logger) (int64, error) {
	keyFile := filepath.Join(cfg.DataDir, keyring.FileName)
	if _, err := os.Stat(keyFile); cfg.Security.Key == "" && err != nil {
		return 0, fmt.Errorf("no key in security.key or %s: this is not the data directory of a monitor that has run", keyFile)
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
	n, err := db.VerifyAudit(ctx, keys.Audit)
	if errors.Is(err, audit.ErrKeyMismatch) {
		source := "the key file " + keyFile
		if cfg.Security.Key != "" {
			source = "security.key (the config file or ELDERSAFE_SECURITY_KEY)"
		}
		return n, fmt.Errorf("%w; the key came from %s: verify with the key the monitor runs with (security.key if set, else %s). If it is that key, the whole log was rewritten by someone without it", err, source, keyFile)
	}
	return n, err
}

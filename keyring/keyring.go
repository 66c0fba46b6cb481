// Package keyring holds the monitor's master key and the keys derived from
// it: one seals the audit chain, one encrypts sensitive fields at rest.
package keyring

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the generated key file in the data directory.
const FileName = "eldersafe.key"

// masterLen is the master key's length in bytes.
const masterLen = 32

// Keys are derived from one master key, each for one purpose, so that one
// leaking does not give away the others.
type Keys struct {
	// Audit seals the audit log's hash chain (HMAC-SHA256).
	Audit []byte
	// Fields encrypts sensitive columns (AES-256-GCM).
	Fields []byte
	// Snapshot encrypts the restart snapshot of the rules' state and the
	// device cache (AES-256-GCM).
	Snapshot []byte
	// Journal encrypts the journal of readings (AES-256-GCM).
	Journal []byte
	// Generated is true when the master key was made and saved by Load.
	Generated bool
}

// Load derives the keys from configured, a base64 master key, or, when it is
// empty, from the key file in dataDir, generating that file at first use.
// A key in a file next to the database protects less than one kept apart
// (e.g. in a secret store, given through ELDERSAFE_SECURITY_KEY).
func Load(configured, dataDir string) (Keys, error) {
	master, generated, err := master(configured, dataDir)
	if err != nil {
		return Keys{}, err
	}
	derive := func(info string) ([]byte, error) {
		k, err := hkdf.Key(sha256.New, master, nil, info, 32)
		if err != nil {
			return nil, fmt.Errorf("derive %s key: %w", info, err)
		}
		return k, nil
	}
	keys := Keys{Generated: generated}
	if keys.Audit, err = derive("eldersafe audit chain v1"); err != nil {
		return Keys{}, err
	}
	if keys.Fields, err = derive("eldersafe field encryption v1"); err != nil {
		return Keys{}, err
	}
	if keys.Snapshot, err = derive("eldersafe snapshot v1"); err != nil {
		return Keys{}, err
	}
	if keys.Journal, err = derive("eldersafe journal v1"); err != nil {
		return Keys{}, err
	}
	return keys, nil
}

// Decode reads a base64 master key and checks its length.
func Decode(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("security.key: not base64: %w", err)
	}
	if len(b) != masterLen {
		return nil, fmt.Errorf("security.key: %d bytes, want %d (make one with: head -c 32 /dev/urandom | base64)", len(b), masterLen)
	}
	return b, nil
}

func master(configured, dataDir string) ([]byte, bool, error) {
	if configured != "" {
		b, err := Decode(configured)
		return b, false, err
	}
	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if err == nil {
		b, err := Decode(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return b, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	b := make([]byte, masterLen)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("generate master key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not each write their own.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return master("", dataDir)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(b) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return nil, false, fmt.Errorf("write key file %s: %w", path, err)
	}
	return b, true, nil
}

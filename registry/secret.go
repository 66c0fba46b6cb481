package registry

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on a device secret. The minimum keeps secrets guessable by no one (a
// fast hash is only safe for secrets with real entropy); the maximum keeps a
// password a broker and a spreadsheet can carry.
const (
	MinSecretLen = 16
	MaxSecretLen = 256
)

// ValidateSecret checks a device secret's length.
func ValidateSecret(secret string) error {
	switch n := len(secret); {
	case n < MinSecretLen:
		return fmt.Errorf("secret: at least %d characters", MinSecretLen)
	case n > MaxSecretLen:
		return fmt.Errorf("secret: at most %d characters", MaxSecretLen)
	}
	return nil
}

// NewSecret makes a random device secret (24 bytes, URL-safe base64).
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Device secrets are hashed the way Mosquitto's password_file hashes
// passwords ("$7$": PBKDF2-HMAC-SHA512 with a 12-byte salt), so the same hash
// serves the embedded broker and, exported, an external Mosquitto. The
// iteration count is mosquitto_passwd's default: secrets are long and random,
// and a slow hash would make a broker restart, with thousands of devices
// reconnecting at once, take minutes.
const (
	hashIterations = 101
	hashSaltLen    = 12
	hashKeyLen     = 64
	// maxIterations bounds the work a stored hash can ask of a check.
	maxIterations = 1_000_000
)

// HashSecret returns a salted PBKDF2-SHA512 hash of a device secret in
// Mosquitto's "$7$iterations$salt$hash" form.
func HashSecret(secret string) (string, error) {
	if err := ValidateSecret(secret); err != nil {
		return "", err
	}
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	key, err := pbkdf2.Key(sha512.New, secret, salt, hashIterations, hashKeyLen)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return fmt.Sprintf("$7$%d$%s$%s", hashIterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}

// CheckSecret reports whether secret matches a hash made by HashSecret (or
// by mosquitto_passwd).
func CheckSecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false
	}
	iterations, err := strconv.Atoi(parts[2])
	if err != nil || iterations < 1 || iterations > maxIterations {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, secret, salt, iterations, len(want))
	return err == nil && subtle.ConstantTimeCompare(want, got) == 1
}

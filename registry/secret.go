package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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

// HashSecret returns a salted SHA-256 of a device secret. A slow password hash
// would make a broker restart, when thousands of devices reconnect at once,
// take minutes; secrets are long and random, so a fast hash suffices.
func HashSecret(secret string) (string, error) {
	if err := ValidateSecret(secret); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(digest(salt, secret)), nil
}

// CheckSecret reports whether secret matches a hash made by HashSecret.
func CheckSecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	salt, err := hex.DecodeString(parts[1])
	if err != nil {
		return false
	}
	want, err := hex.DecodeString(parts[2])
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(want, digest(salt, secret)) == 1
}

func digest(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

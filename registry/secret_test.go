package registry

import (
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := HashSecret(secret)
	if hash == other {
		t.Error("two hashes of one secret are equal: salt missing")
	}
	tests := []struct {
		name, hash, secret string
		want               bool
	}{
		{"right", hash, secret, true},
		{"wrong", hash, secret + "x", false},
		{"empty", hash, "", false},
		{"garbage hash", "nonsense", secret, false},
		{"bad base64", "$7$101$zz!$zz!", secret, false},
		{"unknown scheme", "$6$" + hash[7:], secret, false},
		{"absurd iterations", "$7$999999999$" + hash[7:], secret, false},
		// Made by mosquitto_passwd 2.0.11: an exported password_file and the
		// embedded broker accept the same secrets.
		{"mosquitto_passwd", "$7$101$PfD1rnGrUsoJGL6h$GT5moqmgJWluWDGdIDL8h9+ijXWpbqVvFV91+JXN776vfXFlwl/JlCV+hUmrO6iM18t3wvzU9KU0jW8T0FVUSw==", "a-device-secret-0123456789", true},
		{"mosquitto_passwd, wrong secret", "$7$101$PfD1rnGrUsoJGL6h$GT5moqmgJWluWDGdIDL8h9+ijXWpbqVvFV91+JXN776vfXFlwl/JlCV+hUmrO6iM18t3wvzU9KU0jW8T0FVUSw==", "a-device-secret-012345678", false},
	}
	for _, tt := range tests {
		if got := CheckSecret(tt.hash, tt.secret); got != tt.want {
			t.Errorf("%s: CheckSecret = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !strings.HasPrefix(hash, "$7$101$") {
		t.Errorf("hash %q is not in mosquitto's PBKDF2-SHA512 form", hash)
	}
	if _, err := HashSecret("short"); err == nil {
		t.Error("short secret accepted")
	}
}

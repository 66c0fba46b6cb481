package registry

import (
	"strings"
	"testing"
)

const device6 = "$6$eQOKW+0aNdwP+ugd$nlu10X9cLLe4iqNWueeC5BPrNVSyqX9Z4ReUmJh/txgtdvc3WswVoaU6hfVPQrAPNWAbCfY/QCSMEhCnfoNQxw=="

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
		{"unknown scheme", "$5$" + hash[7:], secret, false},
		{"$6$ with iterations", "$6$" + hash[3:], secret, false},
		{"absurd iterations", "$7$999999999$" + hash[7:], secret, false},
		// Made by mosquitto_passwd 2.0.11: an exported password_file and the
		// embedded broker accept the same secrets.
		{"mosquitto_passwd", "$7$101$PfD1rnGrUsoJGL6h$GT5moqmgJWluWDGdIDL8h9+ijXWpbqVvFV91+JXN776vfXFlwl/JlCV+hUmrO6iM18t3wvzU9KU0jW8T0FVUSw==", "a-device-secret-0123456789", true},
		{"mosquitto_passwd, wrong secret", "$7$101$PfD1rnGrUsoJGL6h$GT5moqmgJWluWDGdIDL8h9+ijXWpbqVvFV91+JXN776vfXFlwl/JlCV+hUmrO6iM18t3wvzU9KU0jW8T0FVUSw==", "a-device-secret-012345678", false},
		// Made by HashDeviceSecret; Mosquitto 2.0.11 let this secret in with
		// it in its password_file and refused the same without its last "9".
		{"device hash", device6, "a-device-secret-0123456789", true},
		{"device hash, wrong secret", device6, "a-device-secret-012345678", false},
		{"device hash, hash cut short", device6[:len(device6)-4], "a-device-secret-0123456789", false},
		{"device hash, bad base64", "$6$zz!$zz!", secret, false},
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

func TestDeviceSecret(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashDeviceSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if other, _ := HashDeviceSecret(secret); hash == other {
		t.Error("two hashes of one secret are equal: salt missing")
	}
	if !strings.HasPrefix(hash, "$6$") {
		t.Errorf("hash %q is not in mosquitto's salted SHA-512 form", hash)
	}
	for _, tt := range []struct {
		name, secret string
		want         bool
	}{{"right", secret, true}, {"wrong", secret + "x", false}, {"empty", "", false}} {
		if got := CheckSecret(hash, tt.secret); got != tt.want {
			t.Errorf("%s: CheckSecret = %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := HashDeviceSecret("short"); err == nil {
		t.Error("short secret accepted")
	}
}

// BenchmarkHashSecret compares what registering a device costs in hashing.
// go test -run=^$ -bench=BenchmarkHash ./registry/
func BenchmarkHashSecret(b *testing.B) {
	for _, bc := range []struct {
		name string
		hash func(string) (string, error)
	}{{"pbkdf2_101", HashSecret}, {"sha512_salted", HashDeviceSecret}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if _, err := bc.hash("a-device-secret-0123456789"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

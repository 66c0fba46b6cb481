package registry

import "testing"

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
		{"bad hex", "sha256$zz$zz", secret, false},
	}
	for _, tt := range tests {
		if got := CheckSecret(tt.hash, tt.secret); got != tt.want {
			t.Errorf("%s: CheckSecret = %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := HashSecret("short"); err == nil {
		t.Error("short secret accepted")
	}
}

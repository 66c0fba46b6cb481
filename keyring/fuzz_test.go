package keyring

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzDecode: whatever security.key (or the key file) holds, Decode does not
// panic and accepts only base64 of exactly the master key's length.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{base64.StdEncoding.EncodeToString(make([]byte, masterLen)), "", "not base64!", "AAAA", " \n" + strings.Repeat("A", 44) + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		if len(b) != masterLen {
			t.Fatalf("accepted a %d-byte key", len(b))
		}
	})
}

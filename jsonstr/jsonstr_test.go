package jsonstr

import (
	"encoding/json"
	"testing"
)

// FuzzUnquote: what Unquote reads is what encoding/json reads, for every
// JSON string.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"2026-03-01T09:12:00+08:00"`, `"x"`, `""`, `"2026-03-01T09:12:00\u002b08:00"`, `"\u00e9"`, `"厨房"`, "\"\x7f\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) || raw[0] != '"' {
			return // Unquote reads string values encoding/json already checked
		}
		var want string
		wantErr := json.Unmarshal([]byte(raw), &want)
		got, err := Unquote(json.RawMessage(raw))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Fatalf("Unquote(%s) = %q, %v; encoding/json: %q, %v", raw, got, err, want, wantErr)
		}
	})
}

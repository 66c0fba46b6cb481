// Package jsonstr reads JSON string values that encoding/json has already
// checked, as device payloads' fields are: most hold no escape, and
// encoding/json's Unmarshal checks the whole value again before unquoting
// it (two thirds of reading a device's time, docs/performance.md,
// "Fortieth round").
package jsonstr

import (
	"encoding/json"
	"unicode/utf8"
)

// Unquote is the text of the JSON string raw, as encoding/json would read
// it: raw's bytes as they are when they need no decoding, encoding/json
// otherwise.
func Unquote(raw json.RawMessage) (string, error) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && literal(raw[1:n-1]) {
		return string(raw[1 : n-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// literal says whether b, between a string's quotes, reads as it is: valid
// UTF-8 with no quote, backslash or control character.
func literal(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

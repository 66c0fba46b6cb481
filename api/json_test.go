package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// decodeTarget has a field of every shape the API's bodies use.
type decodeTarget struct {
	ID       string           `json:"id"`
	Count    int              `json:"count"`
	Lat      *float64         `json:"lat"`
	OK       bool             `json:"ok"`
	IDs      []string         `json:"ids"`
	Contacts []contactRequest `json:"contacts"`
	TS       json.RawMessage  `json:"ts"`
}

// decodeCases are the unit cases, and the fuzz seeds.
var decodeCases = []struct {
	name, body string
	wantMsg    string // "" for success
}{
	{"object", `{"id":"a","count":2,"lat":1.5,"ok":true,"ids":["x"],"contacts":[{"name":"n"}],"ts":"2026-01-01T00:00:00Z"}`, ""},
	{"empty object", `{}`, ""},
	{"whitespace around", " \n\t{\"id\":\"a\"}\r\n ", ""},
	{"null field", `{"lat":null}`, ""},
	{"empty", ``, "empty"},
	{"blank", "  \n", "empty"},
	{"null", `null`, "JSON object"},
	{"array", `[]`, "JSON object"},
	{"string", `"x"`, "JSON object"},
	{"number", `12`, "JSON object"},
	{"unknown field", `{"id":"a","colour":"red"}`, `unknown field "colour"`},
	{"unknown nested field", `{"contacts":[{"name":"n","age":3}]}`, `unknown field "age"`},
	{"wrong type string", `{"id":1}`, "field id: want a string, got number"},
	{"wrong type int", `{"count":1.5}`, "field count: want an integer, got number 1.5"},
	{"wrong type bool", `{"ok":"yes"}`, "field ok: want true or false, got string"},
	{"wrong type array", `{"ids":"x"}`, "field ids: want an array, got string"},
	{"wrong type nested", `{"contacts":[{"channels":{}}]}`, "field contacts.channels: want an array, got object"},
	{"wrong type element", `{"ids":[1]}`, "field ids: want a string, got number"},
	{"syntax", `{"id":"a",}`, "malformed JSON at byte"},
	{"truncated", `{"id":"a"`, "malformed JSON"},
	{"truncated string", `{"id":"a`, "malformed JSON"},
	{"trailing object", `{"id":"a"}{"id":"b"}`, "after the JSON object"},
	{"trailing garbage", `{"id":"a"} x`, "after the JSON object"},
	{"invalid utf-8", "{\"id\":\"\xff\"}", "UTF-8"},
	{"huge number", `{"count":1e999}`, "field count"},
}

func TestDecodeBody(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			var dst decodeTarget
			err := decodeBody([]byte(tt.body), &dst)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("decodeBody: %v", err)
				}
				return
			}
			ae, ok := err.(*apiError)
			if !ok {
				t.Fatalf("decodeBody: %v (%T), want an *apiError", err, err)
			}
			if ae.status != http.StatusBadRequest || ae.code != codeBadJSON {
				t.Errorf("status %d code %q, want 400 bad_json", ae.status, ae.code)
			}
			if !strings.Contains(ae.msg, tt.wantMsg) {
				t.Errorf("message %q, want it to contain %q", ae.msg, tt.wantMsg)
			}
		})
	}
}

// FuzzDecodeBody: whatever the body, decodeBody does not panic, refuses with a
// 400 bad_json, and accepts only one valid JSON object.
func FuzzDecodeBody(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst decodeTarget
		err := decodeBody(body, &dst)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok {
				t.Fatalf("error %v (%T) is not an *apiError", err, err)
			}
			if ae.status != http.StatusBadRequest || ae.code != codeBadJSON || ae.msg == "" {
				t.Fatalf("answer %d %q %q, want 400 bad_json with a message", ae.status, ae.code, ae.msg)
			}
			if len(ae.msg) > 512 {
				t.Fatalf("message of %d bytes quotes too much of the body", len(ae.msg))
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if strings.TrimLeft(string(body), " \t\r\n")[0] != '{' {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		var generic map[string]any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("accepted %q, which is not one object: %v", body, err)
		}
		if _, err := json.Marshal(dst); err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
	})
}

func TestRequireJSON(t *testing.T) {
	tests := []struct {
		ct string
		ok bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/merge-patch+json", true},
		{"text/plain", false},
		{"text/csv", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
		{"application/json; charset", false}, // malformed parameter
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", tt.ct)
		err := requireJSON(r)
		if (err == nil) != tt.ok {
			t.Errorf("Content-Type %q: err %v, want ok %v", tt.ct, err, tt.ok)
		}
	}
}

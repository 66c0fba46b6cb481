package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxBody bounds a request body (1 MiB).
const maxBody = 1 << 20

// decodeJSON reads the request's JSON body into dst, strictly: the body must
// be one JSON object of at most maxBody bytes, with no field dst lacks and
// nothing after it. Every error is an *apiError (415, 413 or 400 bad_json).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if ae := classify(err); ae.status == http.StatusRequestEntityTooLarge {
			return ae
		}
		return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: "reading the request body failed", err: err}
	}
	return decodeBody(body, dst)
}

// decodeOptionalJSON is decodeJSON for a body that may be left out (a
// DELETE's): an empty body leaves dst untouched.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if ae := classify(err); ae.status == http.StatusRequestEntityTooLarge {
			return ae
		}
		return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: "reading the request body failed", err: err}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	return decodeBody(body, dst)
}

// requireJSON accepts a request whose Content-Type is absent, application/json
// (any parameters) or a +json type.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "Content-Type %q: want application/json", ct)
}

// decodeBody decodes body, one JSON object, into dst, which points to a
// struct. Errors are *apiError with code bad_json and name the field at fault.
func decodeBody(body []byte, dst any) error {
	// encoding/json would silently replace invalid UTF-8 in strings.
	if !utf8.Valid(body) {
		return badJSON("body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return badJSON("body is empty: want a JSON object")
	}
	// encoding/json leaves a struct untouched for a top-level null.
	if trimmed[0] != '{' {
		return badJSON("body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badJSON("unexpected data after the JSON object")
	}
	return nil
}

func badJSON(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: msg}
}

// jsonError words an encoding/json error for a client.
func jsonError(err error) *apiError {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		ae := badJSON("malformed JSON at byte " + strconv.FormatInt(se.Offset, 10) + ": " + strings.TrimPrefix(se.Error(), "json: "))
		ae.err = err
		return ae
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: "malformed JSON: the body ends early", err: err}
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "body"
		}
		// te.Value is the JSON kind sent: "string", "array", "number 1.5", ...
		return &apiError{status: http.StatusBadRequest, code: codeBadJSON,
			msg: "field " + field + ": want " + jsonKind(te.Type) + ", got " + te.Value, err: err}
	}
	// encoding/json has no error type for these; its messages are stable.
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: "unknown field " + clip(name), err: err}
	}
	if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		return &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error", err: err}
	}
	return &apiError{status: http.StatusBadRequest, code: codeBadJSON, msg: strings.TrimPrefix(msg, "json: "), err: err}
}

// jsonKind names a Go type as the JSON a client should send for it.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

// writeJSON answers with v as JSON. The body is encoded before the status is
// sent, so an encoding failure still answers a clean 500.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.log.Error("encode response", "method", r.Method, "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{Error: errorDetail{Code: codeInternal, Message: "internal error"}})
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// queryParams returns the request's query parameters, refusing unknown and
// repeated ones, so that a misspelt filter is an error rather than ignored.
func queryParams(r *http.Request, allowed ...string) (map[string]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalidf("query: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, len(q))
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, invalidf("query parameter %q: unknown; known: %s", clip(k), strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return nil, invalidf("query parameter %q: given %d times, at most once", k, len(q[k]))
		}
		out[k] = q[k][0]
	}
	return out, nil
}

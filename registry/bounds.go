package registry

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of what people type: the one table every field of the JSON API and
// every column of the CSV import is checked against, through the Validate
// methods of this package, so that what one door refuses the other does
// too, and no field stores megabytes.

// FieldKind is what a text field holds.
type FieldKind string

const (
	KindID       FieldKind = "id"       // a grid's, worker's, household's, device's or user's id
	KindName     FieldKind = "name"     // a person's, household's or grid's name
	KindAddress  FieldKind = "address"  // a household's address
	KindRelation FieldKind = "relation" // a contact's relation to the resident
	KindNote     FieldKind = "note"     // medical notes; a task's resolution note
	KindReason   FieldKind = "reason"   // why: a grant, an away period, a deletion or revocation, a manual task, a cancellation, a hand-over
	KindPhone    FieldKind = "phone"    // E.164: '+' and 8 to 15 digits
	KindURL      FieldKind = "url"      // a push URL: http or https, with a host
	KindTimezone FieldKind = "timezone" // an IANA time zone name
)

// MaxLen is the most characters (Unicode code points: names and addresses
// are often Chinese) a field of each kind may hold.
var MaxLen = map[FieldKind]int{
	KindID:       64,
	KindName:     200,
	KindAddress:  500,
	KindRelation: 100,
	KindNote:     2000,
	KindReason:   500,
	KindPhone:    16,
	KindURL:      2048,
	KindTimezone: 64,
}

// Most items a list may hold.
const (
	MaxContacts = 20  // a household's contacts
	MaxGridIDs  = 100 // the grids a worker serves
)

// phonePattern is E.164: '+', a country code (never starting with 0), then
// the number, 8 to 15 digits in all.
var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// CheckField checks a value of a field (named field in the error) of kind:
// its length, no control characters (a note may have line breaks and tabs),
// and the kind's format: E.164 for a phone, http(s) for a URL, a known time
// zone. An empty value passes: whether one is required is the caller's
// business. An id is checked by ValidateID.
func CheckField(field string, kind FieldKind, v string) error {
	if v == "" {
		return nil
	}
	if kind == KindPhone && !phonePattern.MatchString(v) {
		// Its format bounds its length, and says more than "at most 16".
		return fmt.Errorf("%s %s: must be E.164, '+' and 8 to 15 digits, e.g. +8613800000001", field, quote(v))
	}
	if n, max := utf8.RuneCountInString(v), MaxLen[kind]; n > max {
		return fmt.Errorf("%s: at most %d characters, got %d", field, max, n)
	}
	if strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && !(kind == KindNote && (r == '\n' || r == '\r' || r == '\t'))
	}) {
		return fmt.Errorf("%s: must not contain control characters", field)
	}
	switch kind {
	case KindURL:
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %s: must be an http or https URL", field, quote(v))
		}
	case KindTimezone:
		if _, err := LoadLocation(v); err != nil {
			return fmt.Errorf("%s %s: unknown", field, quote(v))
		}
	}
	return nil
}

// checkCount checks the length of a list field.
func checkCount(field string, n, max int) error {
	if n > max {
		return fmt.Errorf("%s: at most %d, got %d", field, max, n)
	}
	return nil
}

// quote quotes a value for an error message, cut to 64 characters: an error
// never echoes a megabyte back.
func quote(v string) string {
	const max = 64
	if utf8.RuneCountInString(v) <= max {
		return strconv.Quote(v)
	}
	return strconv.Quote(string([]rune(v)[:max])) + "..."
}

package registry

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// FuzzValidID: the id check accepts exactly what the pattern the contract
// gives ids (letters, digits, '.', '_', ':', '-', starting with a letter or
// digit) matches.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"h1", "A.b_c:d-e", "", "-a", "a-", ".a", "a b", "a/b", "é", "a\x00", "\xff", "h1\n"} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id), pattern.MatchString(id); got != want {
			t.Fatalf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}

// FuzzParseQuietHours: whatever a contact's quiet_hours says (it comes from
// the API and from CSV imports), parsing does not panic, accepts only
// "HH:MM-HH:MM" that it can print back, and Until answers within a day.
func FuzzParseQuietHours(f *testing.F) {
	for _, s := range []string{"22:00-07:00", "00:00-23:59", "07:00-07:00", "24:00-01:00", "9:00-10:00", "22:00", "-", "", "aa:bb-cc:dd", "22:00-07:00-08:00", "２２:00-07:00"} {
		f.Add(s)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 23, 30, 0, 0, loc)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuietHours(s)
		if err != nil {
			return
		}
		if back := fmt.Sprintf("%02d:%02d-%02d:%02d", q.start/60, q.start%60, q.end/60, q.end%60); back != s {
			t.Fatalf("accepted %q, which reads back as %q", s, back)
		}
		if end, quiet := q.Until(at, loc); quiet && (!end.After(at) || end.Sub(at) > 24*time.Hour) {
			t.Fatalf("%q: quiet at %v until %v", s, at, end)
		}
	})
}

// FuzzValidateHousehold: whatever a household holds (API bodies and CSV
// rows both end here), validation does not panic.
func FuzzValidateHousehold(f *testing.F) {
	f.Add("h1", "Zhang Wei", "1 Lane", "g1", "Asia/Shanghai", "Zhang Min", "daughter", "+86138", "http://x", "en", "sms", "22:00-07:00")
	f.Add("", "", "", "", "Mars/Base", "", "", "", "ftp://x", "xx", "fax", "25:00-01:00")
	f.Fuzz(func(t *testing.T, id, name, address, grid, tz, cname, relation, phone, push, lang, channel, quiet string) {
		h := Household{ID: id, Name: name, Address: address, GridID: grid, Timezone: tz,
			Contacts: []Contact{{Name: cname, Relation: relation, Phone: phone, PushURL: push, Lang: lang, Channels: []string{channel}, QuietHours: quiet}}}
		if h.Validate() == nil && ValidateID("id", id) != nil {
			t.Fatalf("accepted household id %q", id)
		}
	})
}

// FuzzParseEvery: a device's expected_every (from the API and CSV imports)
// is refused or within its bounds, and prints back to itself.
func FuzzParseEvery(f *testing.F) {
	for _, s := range []string{"15m", "4h", "1h30m", "90m", "168h", "169h", "0m", "30s", "-1h", "1.5h", "", "1e9h", "h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseEvery(s)
		if err != nil || s == "" {
			return
		}
		if d < MinExpectedEvery || d > MaxExpectedEvery || d%time.Minute != 0 {
			t.Fatalf("%q accepted as %v", s, d)
		}
		if back, err := ParseEvery(FormatEvery(d)); err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, FormatEvery(d), back, err)
		}
	})
}

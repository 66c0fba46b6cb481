package registry

import (
	"strings"
	"testing"
)

func TestCheckField(t *testing.T) {
	tests := []struct {
		name    string
		kind    FieldKind
		v       string
		wantErr string // empty: valid
	}{
		{"empty passes", KindName, "", ""},
		{"name at the limit", KindName, strings.Repeat("王", 200), ""},
		{"name over it", KindName, strings.Repeat("王", 201), "f: at most 200 characters, got 201"},
		{"name of a megabyte", KindName, strings.Repeat("x", 1<<20), "f: at most 200 characters, got 1048576"},
		{"name with a line break", KindName, "Li\nWei", "control characters"},
		{"address at the limit", KindAddress, strings.Repeat("路", 500), ""},
		{"address over it", KindAddress, strings.Repeat("路", 501), "at most 500"},
		{"relation over the limit", KindRelation, strings.Repeat("x", 101), "at most 100"},
		{"note with line breaks and tabs", KindNote, "insulin:\n\t08:00\r\n", ""},
		{"note with another control character", KindNote, "a\x00b", "control characters"},
		{"note over the limit", KindNote, strings.Repeat("药", 2001), "at most 2000"},
		{"reason over the limit", KindReason, strings.Repeat("x", 501), "at most 500"},
		{"phone", KindPhone, "+8613800000001", ""},
		{"phone of 8 digits", KindPhone, "+12345678", ""},
		{"phone of 15 digits", KindPhone, "+123456789012345", ""},
		{"phone of 7 digits", KindPhone, "+1234567", "E.164"},
		{"phone of 16 digits", KindPhone, "+1234567890123456", "E.164"},
		{"phone without +", KindPhone, "8613800000001", "E.164"},
		{"phone with spaces", KindPhone, "+86 138 0000 0001", "E.164"},
		{"phone with country code 0", KindPhone, "+0613800000001", "E.164"},
		{"phone that is a script", KindPhone, "javascript:alert(6)", `"javascript:alert(6)": must be E.164`},
		{"https URL", KindURL, "https://ntfy.example/w1", ""},
		{"http URL with a port", KindURL, "http://127.0.0.1:9099/", ""},
		{"URL that is a script", KindURL, "javascript:alert(1)", "http or https"},
		{"ftp URL", KindURL, "ftp://x", "http or https"},
		{"URL without a host", KindURL, "http://", "http or https"},
		{"URL too long", KindURL, "https://x.example/" + strings.Repeat("a", 2048), "at most 2048"},
		{"time zone", KindTimezone, "Asia/Shanghai", ""},
		{"unknown time zone", KindTimezone, "Mars/Olympus", `"Mars/Olympus": unknown`},
		{"time zone too long", KindTimezone, strings.Repeat("x", 65), "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckField("f", tt.kind, tt.v)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			case err != nil && len(err.Error()) > 200:
				t.Errorf("error of %d bytes echoes the value", len(err.Error()))
			}
		})
	}
}

// TestBoundsEverywhere: the table reaches every field through Validate, and
// no error echoes a huge value.
func TestBoundsEverywhere(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	contact := Contact{Name: "Li Wei", Relation: "son", Channels: []string{ChannelLog}}
	with := func(f func(*Contact)) []Contact { c := contact; f(&c); return []Contact{c} }
	household := func(f func(*Household)) error {
		h := Household{ID: "h1", Name: "Li", Address: "401", GridID: "g1"}
		f(&h)
		return h.Validate()
	}
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"id of 64", ValidateID("id", strings.Repeat("a", 64)), ""},
		{"id of 65", ValidateID("id", strings.Repeat("a", 65)), "must be 1-64"},
		{"id of a megabyte", ValidateID("id", huge), "must be 1-64"},
		{"grid name", Grid{ID: "g1", Name: huge}.Validate(), "name: at most 200 characters"},
		{"worker name", Worker{ID: "w1", Name: huge, Role: RoleGridWorker}.Validate(), "name: at most 200 characters"},
		{"worker phone", Worker{ID: "w1", Name: "Wang", Role: RoleGridWorker, Phone: "javascript:alert(6)"}.Validate(), "phone"},
		{"worker without a phone", Worker{ID: "w1", Name: "Wang", Role: RoleGridWorker}.Validate(), ""},
		{"worker role", Worker{ID: "w1", Name: "Wang", Role: huge}.Validate(), "role"},
		{"worker grids", Worker{ID: "w1", Name: "Wang", Role: RoleGridWorker, GridIDs: make([]string, MaxGridIDs+1)}.Validate(), "grid_ids: at most 100"},
		{"device location", Device{ID: "d1", Kind: MotionSensor, HouseholdID: "h1", Location: huge}.Validate(), "location: at most 200"},
		{"household address", household(func(h *Household) { h.Address = huge }), "address: at most 500"},
		{"household time zone", household(func(h *Household) { h.Timezone = huge }), "timezone: at most 64"},
		{"household contacts", household(func(h *Household) { h.Contacts = make([]Contact, MaxContacts+1) }), "contacts: at most 20, got 21"},
		{"contact name", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Name = huge }) }), "contacts[0]: name: at most 200"},
		{"contact relation", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Relation = huge }) }), "contacts[0]: relation: at most 100"},
		{"contact phone", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Phone = "12345" }) }), "contacts[0]: phone"},
		{"contact channel repeated", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Channels = []string{"log", "log"} }) }), ""},
		{"contact channels, too many", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Channels = make([]string, 100_000) }) }), "channels: at most 3, got 100000"},
		{"contact channel unknown", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.Channels = []string{huge} }) }), "unknown channel"},
		{"contact quiet hours", household(func(h *Household) { h.Contacts = with(func(c *Contact) { c.QuietHours = huge }) }), "quiet_hours"},
		{"privacy audiences, too many", household(func(h *Household) { h.Privacy = Privacy{SignalWater: make([]string, 100_000)} }), "privacy.water: at most 2, got 100000"},
		{"privacy unknown signal", household(func(h *Household) { h.Privacy = Privacy{huge: {}} }), "unknown signal"},
		{"device kind", Device{ID: "d1", HouseholdID: "h1", Kind: DeviceKind(huge)}.Validate(), "kind"},
		{"user role", User{ID: "u1", Role: huge}.Validate(), "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.wantErr == "" && tt.err != nil:
				t.Errorf("unexpected error %v", tt.err)
			case tt.wantErr != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", tt.err, tt.wantErr)
			case tt.err != nil && len(tt.err.Error()) > 500:
				t.Errorf("error of %d bytes echoes the value", len(tt.err.Error()))
			}
		})
	}
}

func TestEveryKindHasABound(t *testing.T) {
	for _, k := range []FieldKind{KindID, KindName, KindAddress, KindRelation, KindNote, KindReason, KindPhone, KindURL, KindTimezone} {
		if MaxLen[k] <= 0 {
			t.Errorf("%s: no bound", k)
		}
	}
}

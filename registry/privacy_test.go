package registry

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPrivacy(t *testing.T) {
	tests := []struct {
		name    string
		p       Privacy
		wantErr string // empty: valid
		// visible lists "signal/audience" pairs that must show; hidden those that must not.
		visible, hidden []string
	}{
		{name: "defaults", p: nil,
			visible: []string{"water/worker", "water/family", "health/family", "location/worker"},
			hidden:  []string{"location/family", "unknown/worker"}},
		{name: "water for workers only", p: Privacy{"water": {"worker"}},
			visible: []string{"water/worker", "power/family"}, hidden: []string{"water/family"}},
		{name: "location for nobody", p: Privacy{"location": {}},
			hidden: []string{"location/worker", "location/family"}},
		{name: "unknown signal", p: Privacy{"mood": {"worker"}}, wantErr: `unknown signal "mood"`},
		{name: "unknown audience", p: Privacy{"door": {"neighbours"}}, wantErr: `privacy.door: unknown audience "neighbours"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
			}
			for _, pair := range tt.visible {
				sig, aud, _ := strings.Cut(pair, "/")
				if !tt.p.Visible(sig, aud) {
					t.Errorf("%s hidden, want visible", pair)
				}
			}
			for _, pair := range tt.hidden {
				sig, aud, _ := strings.Cut(pair, "/")
				if tt.p.Visible(sig, aud) {
					t.Errorf("%s visible, want hidden", pair)
				}
			}
		})
	}
	eff := Privacy{"water": {"family", "worker", "family"}}.Effective()
	if got := fmt.Sprint(eff["water"], eff["location"], len(eff)); got != "[worker family] [worker] 6" {
		t.Errorf("effective = %v", eff)
	}
}

func TestGrantValidate(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ok := Grant{UserID: "gw1", HouseholdID: "h1", Fields: []string{FieldPhone}, Reason: "arrange a visit", CreatedAt: now, Until: now.Add(time.Hour)}
	with := func(f func(*Grant)) Grant { g := ok; f(&g); return g }
	tests := []struct {
		name    string
		g       Grant
		wantErr string
	}{
		{"valid", ok, ""},
		{"thirty days", with(func(g *Grant) { g.Until = now.Add(MaxGrantDuration) }), ""},
		{"too long", with(func(g *Grant) { g.Until = now.Add(MaxGrantDuration + time.Second) }), "at most 30 days"},
		{"past", with(func(g *Grant) { g.Until = now }), "must be in the future"},
		{"no until", with(func(g *Grant) { g.Until = time.Time{} }), "until is required"},
		{"no reason", with(func(g *Grant) { g.Reason = " " }), "reason is required"},
		{"long reason", with(func(g *Grant) { g.Reason = strings.Repeat("x", MaxLen[KindReason]+1) }), "reason: at most 500 characters, got 501"},
		{"no fields", with(func(g *Grant) { g.Fields = nil }), "fields: at least one"},
		{"unknown field", with(func(g *Grant) { g.Fields = []string{"address"} }), `unknown field "address"`},
		{"repeated field", with(func(g *Grant) { g.Fields = []string{"phone", "phone"} }), `"phone" repeated`},
		{"bad user", with(func(g *Grant) { g.UserID = "" }), "user_id"},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.wantErr)
		}
	}
	if !ok.Active(now) || !ok.Active(ok.Until.Add(-time.Millisecond)) || ok.Active(ok.Until) || ok.Active(now.Add(-time.Second)) {
		t.Error("Active: want in force from CreatedAt until just before Until")
	}
	long := Household{ID: "h1", Name: "Li", Address: "401", GridID: "g1", MedicalNotes: strings.Repeat("药", MaxLen[KindNote]+1)}
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "medical_notes: at most 2000 characters, got 2001") {
		t.Errorf("long medical notes: %v", err)
	}
	long.MedicalNotes = strings.Repeat("药", MaxLen[KindNote])
	if err := long.Validate(); err != nil {
		t.Errorf("medical notes at the limit: %v", err)
	}
}

package registry

import (
	"strings"
	"testing"
	"time"
)

func TestAwayPeriodValidate(t *testing.T) {
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	valid := AwayPeriod{ID: "a1", HouseholdID: "h1", From: from, Until: from.Add(72 * time.Hour), Reason: "hospital stay"}
	tests := []struct {
		name    string
		change  func(*AwayPeriod)
		wantErr string
	}{
		{"valid", func(*AwayPeriod) {}, ""},
		{"a year exactly", func(p *AwayPeriod) { p.Until = p.From.Add(MaxAwaySpan) }, ""},
		{"longer than a year", func(p *AwayPeriod) { p.Until = p.From.Add(MaxAwaySpan + time.Second) }, "until: at most 365 days"},
		{"until before from", func(p *AwayPeriod) { p.Until = p.From.Add(-time.Hour) }, "until: must be after from"},
		{"empty period", func(p *AwayPeriod) { p.Until = p.From }, "until: must be after from"},
		{"no from", func(p *AwayPeriod) { p.From = time.Time{} }, "from: required"},
		{"no until", func(p *AwayPeriod) { p.Until = time.Time{} }, "until: required"},
		{"no reason", func(p *AwayPeriod) { p.Reason = "  " }, "reason: required"},
		{"long reason", func(p *AwayPeriod) { p.Reason = strings.Repeat("住", MaxLen[KindReason]+1) }, "reason: at most 500 characters"},
		{"reason of 500 characters", func(p *AwayPeriod) { p.Reason = strings.Repeat("住", MaxLen[KindReason]) }, ""},
		{"control character", func(p *AwayPeriod) { p.Reason = "a\nb" }, "control characters"},
		{"bad household", func(p *AwayPeriod) { p.HouseholdID = "a/b" }, "household_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			tt.change(&p)
			err := p.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

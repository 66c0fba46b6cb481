package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sensitive fields: shown to nobody but the admin unless a supervisor grants
// a named person time-limited access with a reason (Grant).
const (
	FieldPhone        = "phone"         // relatives' phone numbers
	FieldMedicalNotes = "medical_notes" // the household's medical notes
	FieldHeartRate    = "heart_rate"    // the wristband's heart rate
	FieldLocation     = "location"      // precise position: lat, lon, accuracy_m
)

// SensitiveFields lists every sensitive field.
var SensitiveFields = []string{FieldPhone, FieldMedicalNotes, FieldHeartRate, FieldLocation}

// FieldSignal is the privacy signal a sensitive field belongs to, "" for
// one the privacy settings do not govern (phone, medical notes).
func FieldSignal(field string) string {
	switch field {
	case FieldHeartRate:
		return SignalHealth
	case FieldLocation:
		return SignalLocation
	}
	return ""
}

// MaxGrantDuration is the longest a grant may last.
const MaxGrantDuration = 30 * 24 * time.Hour

// Grant lets one user see some sensitive fields of one household until a
// time, for a reason a supervisor gave.
type Grant struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	HouseholdID string    `json:"household_id"`
	Fields      []string  `json:"fields"`
	Reason      string    `json:"reason"`
	GrantedBy   string    `json:"granted_by"`
	CreatedAt   time.Time `json:"created_at"`
	// Until is when it ends; for a revoked grant, when it was revoked.
	Until time.Time `json:"until"`
	// RevokedBy is the supervisor who ended it early, if one did.
	RevokedBy string `json:"revoked_by,omitempty"`
}

// Validate names every problem with the grant; CreatedAt is when it is
// made, which Until must follow by at most MaxGrantDuration.
func (g Grant) Validate() error {
	errs := []error{ValidateID("user_id", g.UserID), ValidateID("household_id", g.HouseholdID), required("reason", g.Reason),
		CheckField("reason", KindReason, g.Reason)}
	if len(g.Fields) == 0 {
		errs = append(errs, fmt.Errorf("fields: at least one of %s is required", strings.Join(SensitiveFields, ", ")))
	}
	for i, f := range g.Fields {
		switch {
		case !slices.Contains(SensitiveFields, f):
			errs = append(errs, fmt.Errorf("fields: unknown field %s (known: %s)", quote(f), strings.Join(SensitiveFields, ", ")))
		case slices.Contains(g.Fields[:i], f):
			errs = append(errs, fmt.Errorf("fields: %q repeated", f))
		}
	}
	switch {
	case g.Until.IsZero():
		errs = append(errs, errors.New("until is required"))
	case !g.Until.After(g.CreatedAt):
		errs = append(errs, fmt.Errorf("until %s: must be in the future", g.Until.Format(time.RFC3339)))
	case g.Until.Sub(g.CreatedAt) > MaxGrantDuration:
		errs = append(errs, fmt.Errorf("until %s: at most %d days ahead", g.Until.Format(time.RFC3339), int(MaxGrantDuration/(24*time.Hour))))
	}
	return errors.Join(errs...)
}

// Active reports whether the grant is in force at now.
func (g Grant) Active(now time.Time) bool {
	return !now.Before(g.CreatedAt) && now.Before(g.Until)
}

// Covers reports whether the grant shows field.
func (g Grant) Covers(field string) bool { return slices.Contains(g.Fields, field) }

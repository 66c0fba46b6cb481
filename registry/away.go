package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxAwaySpan bounds one away period: a longer absence is better recorded as
// several, each with its reason, than as one that silences a home for years.
const MaxAwaySpan = 365 * 24 * time.Hour

// AwayPeriod is a span during which a household's resident is not at home
// (a hospital stay, visiting family): welfare rules open no task for it.
type AwayPeriod struct {
	ID          string    `json:"id"`
	HouseholdID string    `json:"household_id"`
	From        time.Time `json:"from"`
	Until       time.Time `json:"until"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
}

// Validate names every field at fault.
func (p AwayPeriod) Validate() error {
	errs := []error{ValidateID("id", p.ID), ValidateID("household_id", p.HouseholdID)}
	switch {
	case p.From.IsZero():
		errs = append(errs, errors.New("from: required"))
	case p.Until.IsZero():
		errs = append(errs, errors.New("until: required"))
	case !p.Until.After(p.From):
		errs = append(errs, errors.New("until: must be after from"))
	case p.Until.Sub(p.From) > MaxAwaySpan:
		errs = append(errs, fmt.Errorf("until: at most %d days after from; record a longer absence as several periods", int(MaxAwaySpan/(24*time.Hour))))
	}
	if strings.TrimSpace(p.Reason) == "" {
		errs = append(errs, errors.New("reason: required"))
	}
	errs = append(errs, CheckField("reason", KindReason, p.Reason))
	return errors.Join(errs...)
}

package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// RoleFamily is a relative of one household's resident.
const RoleFamily = "family"

// UserRoles are the roles a person logging in may have.
var UserRoles = []string{RoleOperator, RoleSupervisor, RoleGridWorker, RoleFamily}

// User is a person who logs in to the API.
type User struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// WorkerID ties a grid worker (or supervisor) to the worker record whose
	// grids they see and whose tasks they act on.
	WorkerID string `json:"worker_id,omitempty"`
	// HouseholdID ties a family member to the one household they may see.
	HouseholdID  string    `json:"household_id,omitempty"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// CreatedBy is who registered the user: a user id, or AdminID. Empty
	// for users registered before it was recorded.
	CreatedBy string `json:"created_by,omitempty"`
}

// AdminID names the bootstrap admin (the holder of the admin token) in the
// audit log and in CreatedBy. No user may take it, in any case, or the log
// could not tell them apart.
const AdminID = "admin"

// Validate names every problem with the user.
func (u User) Validate() error {
	var errs []error
	if err := ValidateID("id", u.ID); err != nil {
		errs = append(errs, err)
	}
	if strings.EqualFold(u.ID, AdminID) {
		errs = append(errs, fmt.Errorf("id %q: %q is reserved for the admin token", u.ID, AdminID))
	}
	if !slices.Contains(UserRoles, u.Role) {
		errs = append(errs, fmt.Errorf("role %s: must be operator, supervisor, grid_worker or family", quote(u.Role)))
	}
	if err := OptionalID("worker_id", u.WorkerID); err != nil {
		errs = append(errs, err)
	}
	if err := OptionalID("household_id", u.HouseholdID); err != nil {
		errs = append(errs, err)
	}
	switch u.Role {
	case RoleGridWorker:
		if u.WorkerID == "" {
			errs = append(errs, errors.New("worker_id: required for a grid_worker"))
		}
	case RoleFamily:
		if u.HouseholdID == "" {
			errs = append(errs, errors.New("household_id: required for family"))
		}
	}
	if u.HouseholdID != "" && u.Role != RoleFamily {
		errs = append(errs, errors.New("household_id: only for family"))
	}
	if u.WorkerID != "" && u.Role != RoleGridWorker && u.Role != RoleSupervisor {
		errs = append(errs, errors.New("worker_id: only for a grid_worker or supervisor"))
	}
	return errors.Join(errs...)
}

// ExpiredSessionError is a session that has expired, with its user: the
// caller is known, though not let in.
type ExpiredSessionError struct {
	User    User
	Expired time.Time
}

func (e *ExpiredSessionError) Error() string {
	return "session of " + e.User.ID + " expired at " + e.Expired.UTC().Format(time.RFC3339)
}

// Password bounds. bcrypt reads at most 72 bytes; longer passwords are
// refused rather than silently cut.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 72
)

// PasswordCost is bcrypt's work factor: about a tenth of a second per
// log-in on a server core, slow for guessing and fine for people.
const PasswordCost = 11

// HashPassword checks a password's length and hashes it with bcrypt at
// cost (bcrypt.MinCost to MaxCost; tests use the minimum).
func HashPassword(password string, cost int) (string, error) {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return "", fmt.Errorf("password: at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return "", fmt.Errorf("password: at most %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

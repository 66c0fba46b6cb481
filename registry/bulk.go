package registry

import "strings"

// DeletedPrefix starts the anonymous id a deleted household's tasks are
// filed under. The '~' makes it an invalid id (ValidateID), so no household
// can be registered under it and nothing can refer to it.
const DeletedPrefix = "deleted~"

// IsDeleted reports whether a household id is the anonymous id of a deleted
// household.
func IsDeleted(householdID string) bool { return strings.HasPrefix(householdID, DeletedPrefix) }

// Erasure is what deleting a household did: what it removed, and what it
// kept, anonymised, for statistics.
type Erasure struct {
	// HouseholdID is the id the household had.
	HouseholdID string `json:"household_id"`
	// DeviceIDs are its devices, removed with their credentials.
	DeviceIDs []string `json:"device_ids"`
	// UserIDs are the users tied to it (family), removed with their
	// sessions and grants.
	UserIDs []string `json:"user_ids"`
	// Tasks were kept under an anonymous household id, their evidence and
	// timeline messages cleared; TasksCancelled of them were still open.
	Tasks          int `json:"tasks_anonymised"`
	TasksCancelled int `json:"tasks_cancelled"`
	// Notices were kept without recipient, address, title or message.
	Notices int `json:"notices_anonymised"`
	// Rows counts the rows deleted, by table.
	Rows map[string]int `json:"rows_deleted"`
}

// DeviceError is a problem with one device of a bulk change, such as an id
// that another household's device already has.
type DeviceError struct {
	DeviceID string
	Err      error
}

func (e *DeviceError) Error() string { return "device " + e.DeviceID + ": " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }

// HouseholdImport is one household of a bulk import with its devices.
type HouseholdImport struct {
	Household Household
	// SetMedicalNotes replaces the stored medical notes of an existing
	// household with Household.MedicalNotes; false keeps them.
	SetMedicalNotes bool
	// Devices are added to the household; one that it has already keeps its
	// kind and gets a new secret when SecretHash is set.
	Devices []Device
	// NewSecretHashes are, by device id, the hashes of secrets generated for
	// devices listed without one: used only for a device that is new.
	NewSecretHashes map[string]string
}

// ImportResult is what importing one household did.
type ImportResult struct {
	// Created is true for a new household, false for one updated.
	Created bool
	// Added are the devices the import registered.
	Added []Device
}

// Validate names every problem with a contact on its own, as
// Household.Validate does for each of its contacts.
func (c Contact) Validate() error { return c.validate() }

// Package registry holds the people, places and devices eldersafe watches over:
// grids, workers, households with their family contacts, and devices. It is pure
// domain: validation lives here, persistence lives in store.
package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned by lookups of an id nobody registered.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an id is already taken.
var ErrConflict = errors.New("already exists")

// ErrTopicTaken is returned when a device's source topic is another
// device's already: a conflict, though its id is free.
var ErrTopicTaken = fmt.Errorf("topic taken: %w", ErrConflict)

// ErrUnknownReference is returned when an object names another that does not
// exist, such as a household in a grid nobody registered.
var ErrUnknownReference = errors.New("refers to an unknown object")

// DeviceKind is what a device measures.
type DeviceKind string

const (
	WaterMeter   DeviceKind = "water_meter"
	MotionSensor DeviceKind = "motion_sensor"
	DoorSensor   DeviceKind = "door_sensor"
	Wristband    DeviceKind = "wristband"
	PowerMeter   DeviceKind = "power_meter"
)

// DeviceKinds lists every kind a device may be registered as.
var DeviceKinds = []DeviceKind{WaterMeter, MotionSensor, DoorSensor, Wristband, PowerMeter}

// Valid reports whether k is a known device kind.
func (k DeviceKind) Valid() bool {
	for _, known := range DeviceKinds {
		if k == known {
			return true
		}
	}
	return false
}

// Worker roles.
const (
	RoleGridWorker = "grid_worker"
	RoleSupervisor = "supervisor"
	RoleOperator   = "operator"
)

// Languages a notice can be written in; the first is the default.
var Languages = []string{"zh-CN", "en"}

// DefaultLanguage is used when a person has not chosen one.
const DefaultLanguage = "zh-CN"

// Notification channels a contact may list.
const (
	ChannelPush = "push"
	ChannelSMS  = "sms"
	ChannelLog  = "log"
)

// Channels lists every channel.
var Channels = []string{ChannelPush, ChannelSMS, ChannelLog}

// ChannelDevice carries a command to a device over MQTT (a wristband's
// check, CONTRACT.md §12) through the outbox, so it is durable and retried.
// No contact lists it: it is not one of Channels.
const ChannelDevice = "device"

// DefaultTimezone is where households are unless registered otherwise.
const DefaultTimezone = "Asia/Shanghai"

type Grid struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	SupervisorID   string `json:"supervisor_id,omitempty"`
	BackupWorkerID string `json:"backup_worker_id,omitempty"`
}

type Worker struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Phone   string   `json:"phone"`
	GridIDs []string `json:"grid_ids"`
	Role    string   `json:"role"`
	PushURL string   `json:"push_url,omitempty"`
	Lang    string   `json:"lang,omitempty"`
	// CreatedAt is when the worker was registered. The grid's primary worker
	// is the first registered, by the store's insertion order.
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is who registered the worker: a user id, or AdminID. Empty
	// for workers registered before it was recorded.
	CreatedBy string `json:"created_by,omitempty"`
}

type Contact struct {
	Name     string   `json:"name"`
	Relation string   `json:"relation"`
	Phone    string   `json:"phone,omitempty"`
	PushURL  string   `json:"push_url,omitempty"`
	Lang     string   `json:"lang,omitempty"`
	Channels []string `json:"channels"`
	// QuietHours ("22:00-07:00", household's local time) hold back low and
	// medium severity notices until they end; empty: never quiet.
	QuietHours string `json:"quiet_hours,omitempty"`
}

type Household struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	GridID   string    `json:"grid_id"`
	Timezone string    `json:"timezone,omitempty"`
	Contacts []Contact `json:"contacts"`
	// MedicalNotes is what a visitor should know (conditions, medicines),
	// at most MaxMedicalNotes characters. Sensitive: encrypted at rest and
	// shown only under a grant.
	MedicalNotes string `json:"medical_notes,omitempty"`
	// Privacy is the resident's word on who sees which signal; nil or a
	// signal left out: DefaultPrivacy.
	Privacy Privacy `json:"privacy,omitempty"`
	// CareLevel grades the attention the resident needs; empty is self_care.
	CareLevel CareLevel `json:"care_level,omitempty"`
}

type Device struct {
	ID          string     `json:"id"`
	Kind        DeviceKind `json:"kind"`
	HouseholdID string     `json:"household_id"`
	// SecretHash is the hashed MQTT password; the secret itself is never stored.
	SecretHash string `json:"-"`
	// Source is the format the device speaks; empty or SourceNative for
	// eldersafe's own. SourceTopic names the device on its source's topics,
	// and GatewayID, when set, is the gateway that publishes for it
	// (CONTRACT.md §14).
	Source      Source `json:"source,omitempty"`
	SourceTopic string `json:"source_topic,omitempty"`
	GatewayID   string `json:"gateway_id,omitempty"`
	// ExpectedEvery is how often the device reports, when not its kind's
	// usual (docs/rules.md#sensor-health); zero: its kind's. The API spells
	// it as FormatEvery does.
	ExpectedEvery time.Duration `json:"-"`
	// Location is where in the home the device is ("kitchen"), so that
	// several of one kind can be told apart; empty: not said.
	Location string `json:"location,omitempty"`
}

// Bounds of a device's expected_every.
const (
	MinExpectedEvery = time.Minute
	MaxExpectedEvery = 7 * 24 * time.Hour
)

// ParseEvery reads an expected_every: a duration in whole minutes such as
// "15m", "4h" or "1h30m", from MinExpectedEvery to MaxExpectedEvery. Empty
// is zero: the kind's interval.
func ParseEvery(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Minute != 0 || d < MinExpectedEvery || d > MaxExpectedEvery {
		return 0, fmt.Errorf("expected_every %s: must be whole minutes from 1m to 168h, e.g. \"15m\" or \"4h\"", quote(s))
	}
	return d, nil
}

// FormatEvery spells an expected_every as ParseEvery reads it: "4h",
// "90m"; empty for zero.
func FormatEvery(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// RegisteredDevice is a device with the time it was registered.
type RegisteredDevice struct {
	Device
	CreatedAt time.Time
}

// ValidateID checks an identifier; what names the field in the error. Its
// characters keep ids safe inside MQTT topics, URLs and CSV files; its
// length is MaxLen[KindID].
func ValidateID(what, id string) error {
	if n, max := len(id), MaxLen[KindID]; n > max || !validID(id) {
		return fmt.Errorf("%s %s: must be 1-%d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", what, quote(id), max)
	}
	return nil
}

// validID says whether id is ASCII letters, digits, '.', '_', ':' and '-',
// starting with a letter or digit. A loop rather than a regular
// expression: ids are checked for every line an import reads.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return id != ""
}

// OptionalID checks an id field that may be left empty.
func OptionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return ValidateID(what, id)
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required", field)
	}
	return nil
}

func validLang(field, lang string) error {
	if lang == "" {
		return nil
	}
	for _, l := range Languages {
		if l == lang {
			return nil
		}
	}
	return fmt.Errorf("%s %s: must be one of %s", field, quote(lang), strings.Join(Languages, ", "))
}

func (g Grid) Validate() error {
	return errors.Join(ValidateID("id", g.ID), required("name", g.Name), CheckField("name", KindName, g.Name),
		OptionalID("supervisor_id", g.SupervisorID), OptionalID("backup_worker_id", g.BackupWorkerID))
}

func (w Worker) Validate() error {
	errs := []error{ValidateID("id", w.ID), required("name", w.Name), CheckField("name", KindName, w.Name),
		CheckField("phone", KindPhone, w.Phone), validLang("lang", w.Lang), CheckField("push_url", KindURL, w.PushURL)}
	switch w.Role {
	case RoleGridWorker, RoleSupervisor, RoleOperator:
	default:
		errs = append(errs, fmt.Errorf("role %s: must be grid_worker, supervisor or operator", quote(w.Role)))
	}
	if err := checkCount("grid_ids", len(w.GridIDs), MaxGridIDs); err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, g := range w.GridIDs {
		errs = append(errs, ValidateID("grid_ids", g))
	}
	return errors.Join(errs...)
}

func (h Household) Validate() error {
	errs := []error{ValidateID("id", h.ID), required("name", h.Name), CheckField("name", KindName, h.Name),
		required("address", h.Address), CheckField("address", KindAddress, h.Address), ValidateID("grid_id", h.GridID),
		CheckField("timezone", KindTimezone, h.Timezone), CheckField("medical_notes", KindNote, h.MedicalNotes)}
	if err := checkCount("contacts", len(h.Contacts), MaxContacts); err != nil {
		return errors.Join(append(errs, err)...)
	}
	for i, c := range h.Contacts {
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("contacts[%d]: %w", i, err))
		}
	}
	errs = append(errs, h.Privacy.Validate())
	if _, err := ParseCareLevel(string(h.CareLevel)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Location is the household's time zone, for windows such as no_motion's waking hours.
func (h Household) Location() *time.Location {
	tz := h.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

func (c Contact) validate() error {
	errs := []error{required("name", c.Name), CheckField("name", KindName, c.Name),
		required("relation", c.Relation), CheckField("relation", KindRelation, c.Relation),
		CheckField("phone", KindPhone, c.Phone), CheckField("push_url", KindURL, c.PushURL), validLang("lang", c.Lang)}
	if len(c.Channels) == 0 {
		errs = append(errs, errors.New("channels: at least one of push, sms, log is required"))
	}
	// A channel listed twice is harmless (one notice goes out), but the
	// list is no longer than the channels there are.
	if err := checkCount("channels", len(c.Channels), len(Channels)); err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, ch := range c.Channels {
		switch ch {
		case ChannelPush:
			if c.PushURL == "" {
				errs = append(errs, errors.New("channels: push needs push_url"))
			}
		case ChannelSMS:
			if c.Phone == "" {
				errs = append(errs, errors.New("channels: sms needs phone"))
			}
		case ChannelLog:
		default:
			errs = append(errs, fmt.Errorf("channels: unknown channel %s", quote(ch)))
		}
	}
	if c.QuietHours != "" {
		if _, err := ParseQuietHours(c.QuietHours); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d Device) Validate() error {
	var kind error
	if !d.Kind.Valid() && d.Kind != Gateway {
		kind = fmt.Errorf("kind %s: must be one of water_meter, motion_sensor, door_sensor, wristband, power_meter, gateway", quote(string(d.Kind)))
	}
	// Joined as arguments, not appended to a slice, which would escape:
	// devices are checked for every line an import reads.
	return errors.Join(ValidateID("id", d.ID), ValidateID("household_id", d.HouseholdID), CheckField("location", KindName, d.Location),
		kind, d.validateSource())
}

package tasks

import "time"

// Notice states in the outbox.
const (
	NoticePending = "pending"
	NoticeSent    = "sent"
	NoticeFailed  = "failed"
)

// Recipient roles: who a notice is for, which decides how much it says.
const (
	RecipientWorker = "worker"
	RecipientFamily = "family"
	// RecipientResident is the resident's own device: a check to answer.
	RecipientResident = "resident"
)

// Notice is one message to one recipient on one channel, written to the durable
// outbox in the same transaction as the task change that causes it.
type Notice struct {
	ID     string `json:"id"`
	TaskID string `json:"task_id"`
	// Event is what the notice tells: NoticeOpened, NoticeEscalated, ...
	Event       string    `json:"event"`
	HouseholdID string    `json:"household_id"`
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"`
	Channel     string    `json:"channel"`
	Role        string    `json:"role"`
	Recipient   string    `json:"recipient"` // a person's name, for people reading the task
	Address     string    `json:"address"`   // push URL or phone number; empty for log
	Lang        string    `json:"lang"`
	Title       string    `json:"title"`
	Message     string    `json:"message"`
	OpenedAt    time.Time `json:"opened_at"`
	// State is the task's when the notice was written; Actions the answers
	// it offers (a verifying task's, to a family), with their links.
	State   string   `json:"state"`
	Actions []Action `json:"actions,omitempty"`
	// CreatedAt is wall time, for delivery latency and retries.
	CreatedAt     time.Time  `json:"created_at"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// NoticeKey is what makes two notices the same for the rate limit: one event
// of one task told to one person on one channel.
type NoticeKey struct {
	TaskID, Event, Role, Recipient, Channel, Address string
}

// Key is the notice's NoticeKey.
func (n Notice) Key() NoticeKey {
	return NoticeKey{TaskID: n.TaskID, Event: n.Event, Role: n.Role, Recipient: n.Recipient, Channel: n.Channel, Address: n.Address}
}

// Message is what a template needs to write a notice.
type Message struct {
	Event     string // NoticeOpened, ...
	Role      string // RecipientWorker or RecipientFamily
	Lang      string
	Task      Task
	Household HouseholdInfo
	// Assignee is who is on the way.
	Assignee string
	// EscalatedTo names who an escalation reached (backup worker, supervisor).
	EscalatedTo []string
	// Reason is why a task was handed over or cancelled.
	Reason string
	// Location is where the wristband was, when it said.
	Lat, Lon *float64
	// Actions are the answers a family contact may give to a verifying
	// task, each with its link when the monitor has a public URL.
	Actions []Action
}

// Action is one answer a notice offers.
type Action struct {
	Answer string `json:"answer"`
	Label  string `json:"label"`
	URL    string `json:"url,omitempty"`
}

// HouseholdInfo is the part of a household a message may mention.
type HouseholdInfo struct {
	Name     string
	Address  string
	Location *time.Location
}

// Notice events: what happened to the task that a recipient is told about.
const (
	NoticeOpened = "opened"
	// NoticeEscalated goes to the backup worker, the supervisor and the family
	// when the acknowledgement deadline passed.
	NoticeEscalated = "escalated"
	// NoticeHandover goes to the worker a task was handed over to.
	NoticeHandover = "handover"
	// NoticeResolved tells the family the visit is over and its outcome.
	NoticeResolved = "resolved"
	// NoticeCancelled tells those already told that no visit will follow.
	NoticeCancelled = "cancelled"
	// NoticeVerifying asks the family to answer for the resident before
	// anyone is sent.
	NoticeVerifying = "verifying"
	// NoticeAcknowledged tells the family a worker is on the way.
	NoticeAcknowledged = "acknowledged"
	// NoticeOnSite tells the family the worker has arrived.
	NoticeOnSite = "on_site"
)

// Composer writes the title and text of a notice in the recipient's language.
type Composer interface {
	Compose(m Message) (title, text string, err error)
}

// Attempt is the result of one delivery attempt, recorded on the notice and,
// as Entry, on its task's timeline in one transaction.
type Attempt struct {
	Status        string // NoticePending (will retry), NoticeSent or NoticeFailed
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	SentAt        *time.Time
	Entry         TimelineEntry
}

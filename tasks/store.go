package tasks

import (
	"context"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Store keeps tasks, their evidence and timelines, and the outbox.
type Store interface {
	// Update runs fn once, in one transaction: every change and notice it
	// makes is committed together or not at all.
	Update(ctx context.Context, fn func(Tx) error) error
	// Task loads one task with its evidence and timeline.
	Task(ctx context.Context, id string) (Task, error)
	// Tasks lists tasks matching f, newest first, without evidence and timeline.
	Tasks(ctx context.Context, f Filter) ([]Task, error)
	// DueForEscalation lists, without evidence and timeline, at most limit
	// tasks that must escalate at now: open and verifying ones whose
	// ack_due_at has passed (a verifying task's is its verify_until),
	// and acknowledged ones whose resolve_due_at has passed and that have not
	// escalated since (escalated_at absent or before resolve_due_at). Earliest
	// deadline first. It must not scan every task.
	DueForEscalation(ctx context.Context, now time.Time, limit int) ([]Task, error)
	// AnswerToken finds an answer link's token by its hash.
	AnswerToken(ctx context.Context, hash string) (AnswerToken, error)
	// SLASamples lists the tasks opened in [from, to) with their grid, in the
	// grid gridID only unless it is empty.
	SLASamples(ctx context.Context, from, to time.Time, gridID string) ([]SLASample, error)
	// SLAWorkerSamples sums the ratings of the tasks opened in [from, to),
	// routine visits included, per assignee and grid, in the grid gridID
	// only unless it is empty. Order is unspecified.
	SLAWorkerSamples(ctx context.Context, from, to time.Time, gridID string) ([]SLAWorkerSample, error)
	// RoutineHouseholds lists the households whose routine visits of month
	// (YYYY-MM) are not scheduled yet, by id.
	RoutineHouseholds(ctx context.Context, month string) ([]RoutineHousehold, error)
	// RoutineSamples lists the routine visits due in [from, to) with their
	// grid, and counts every grid's households.
	RoutineSamples(ctx context.Context, from, to time.Time) ([]RoutineSample, map[string]int, error)
	// RatingsBy finds by's ratings of the tasks taskIDs, by task id.
	RatingsBy(ctx context.Context, by string, taskIDs []string) (map[string]Rating, error)
}

// Tx is what a task change may read and write inside one transaction.
type Tx interface {
	// OpenTaskFor finds the task of a household and rule that is not yet closed.
	OpenTaskFor(ctx context.Context, householdID, rule string) (Task, bool, error)
	// Task loads a task (without evidence and timeline) for change.
	Task(ctx context.Context, id string) (Task, error)
	InsertTask(ctx context.Context, t Task) error
	// InsertTasks stores new tasks with their Evidence and Timeline, many
	// at once; one refused (as InsertTask refuses it) fails them all
	// without saying which.
	InsertTasks(ctx context.Context, ts []Task) error
	UpdateTask(ctx context.Context, t Task) error
	AddEvidence(ctx context.Context, taskID string, ev rules.Evidence) error
	AddTimeline(ctx context.Context, taskID string, e TimelineEntry) error
	Enqueue(ctx context.Context, n Notice) error
	// AddAnswerToken stores an answer link's token (hashed).
	AddAnswerToken(ctx context.Context, tok AnswerToken) error
	// AddAwayPeriod records a household away (a with_me answer).
	AddAwayPeriod(ctx context.Context, p registry.AwayPeriod) error
	// LastNoticeAt is the CreatedAt of the newest notice with key k that has
	// not failed; false when there is none.
	LastNoticeAt(ctx context.Context, k NoticeKey) (time.Time, bool, error)

	Household(ctx context.Context, id string) (registry.Household, error)
	Grid(ctx context.Context, id string) (registry.Grid, error)
	Worker(ctx context.Context, id string) (registry.Worker, error)
	// Wristbands lists the ids of a household's wristbands.
	Wristbands(ctx context.Context, householdID string) ([]string, error)
	// PrimaryWorker is the first grid worker registered with the grid.
	PrimaryWorker(ctx context.Context, gridID string) (registry.Worker, error)
	// RoutineHouseholdsOf loads the registered households among ids, by
	// id; one not registered is absent.
	RoutineHouseholdsOf(ctx context.Context, ids []string) (map[string]RoutineHousehold, error)
	// MarkRoutineMonths records that the routine visits of month (YYYY-MM)
	// are scheduled for the households of visits (by id, how many each),
	// and returns those it marked: the others' were already.
	MarkRoutineMonths(ctx context.Context, month string, visits map[string]int, at time.Time) (map[string]bool, error)
	// InsertRating stores a rating; a second one of the same task by the
	// same rater is registry.ErrConflict.
	InsertRating(ctx context.Context, r Rating) error
}

// Filter selects tasks for listing; empty fields match everything.
type Filter struct {
	State       State
	HouseholdID string
	Rule        string
	AssigneeID  string
	// Kind keeps the tasks of one kind. Empty lists the tasks alerts and
	// people opened (visit and maintenance) and leaves out the routine
	// visits, which would bury them (a household has up to 31 a month),
	// unless Rule is routine_visit or WithRoutine is set.
	Kind        rules.TaskKind
	WithRoutine bool
	// DueBefore, when set, keeps only tasks with a due_at before it (routine visits).
	DueBefore time.Time
	// GridIDs, when not nil, keeps only tasks of households in these grids.
	GridIDs []string
	Limit   int
}

type urgentKey struct{}

// Urgent marks the writes made under ctx as an alarm's: a store that writes
// one transaction at a time lets them go before those queued without it.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

// IsUrgent reports whether ctx was marked by Urgent.
func IsUrgent(ctx context.Context) bool {
	urgent, _ := ctx.Value(urgentKey{}).(bool)
	return urgent
}

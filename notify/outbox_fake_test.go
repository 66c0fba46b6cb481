package notify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// memOutbox is an in-memory Outbox for the dispatcher's tests; store.DB has its own.
type memOutbox struct {
	mu       sync.Mutex
	notices  map[string]*tasks.Notice
	order    []string
	attempts []recorded // every RecordAttempt, in order

	recordedCh chan recorded  // one value per RecordAttempt
	idleCh     chan struct{}  // a value (when there is room) per NextNoticeAt
	failNext   map[string]int // RecordAttempt fails this many times for a notice
}

type recorded struct {
	ID      string
	Attempt tasks.Attempt
}

var _ Outbox = (*memOutbox)(nil)

func newMemOutbox() *memOutbox {
	return &memOutbox{
		notices:    make(map[string]*tasks.Notice),
		recordedCh: make(chan recorded, 1000),
		idleCh:     make(chan struct{}, 1),
		failNext:   make(map[string]int),
	}
}

// add enqueues a pending notice due at once (wall time).
func (o *memOutbox) add(n tasks.Notice) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n.Status == "" {
		n.Status = tasks.NoticePending
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = time.Now()
	}
	if n.NextAttemptAt.IsZero() {
		n.NextAttemptAt = n.CreatedAt
	}
	o.notices[n.ID] = &n
	o.order = append(o.order, n.ID)
}

func (o *memOutbox) get(id string) tasks.Notice {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.notices[id]
}

func (o *memOutbox) DueNotices(ctx context.Context, now time.Time, limit int) ([]tasks.Notice, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []tasks.Notice
	for _, id := range o.order {
		n := o.notices[id]
		if n.Status == tasks.NoticePending && !n.NextAttemptAt.After(now) {
			due = append(due, *n)
		}
	}
	slices.SortStableFunc(due, func(a, b tasks.Notice) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	if len(due) > limit {
		due = due[:limit]
	}
	return due, nil
}

func (o *memOutbox) NextNoticeAt(ctx context.Context) (time.Time, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() {
		select {
		case o.idleCh <- struct{}{}:
		default:
		}
	}()
	var next time.Time
	found := false
	for _, n := range o.notices {
		if n.Status == tasks.NoticePending && (!found || n.NextAttemptAt.Before(next)) {
			next, found = n.NextAttemptAt, true
		}
	}
	return next, found, nil
}

func (o *memOutbox) RecordAttempt(ctx context.Context, id string, a tasks.Attempt) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, ok := o.notices[id]
	if !ok {
		return fmt.Errorf("notice %s: not found", id)
	}
	if o.failNext[id] > 0 {
		o.failNext[id]--
		return fmt.Errorf("notice %s: database is locked", id)
	}
	n.Status, n.Attempts, n.NextAttemptAt, n.LastError, n.SentAt = a.Status, a.Attempts, a.NextAttemptAt, a.LastError, a.SentAt
	r := recorded{ID: id, Attempt: a}
	o.attempts = append(o.attempts, r)
	o.recordedCh <- r
	return nil
}

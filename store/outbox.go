package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Listing limits of DueNotices.
const (
	DefaultNoticeLimit = 100
	MaxNoticeLimit     = 1000
)

const noticeCols = `id, task_id, household_id, rule, severity, channel, role, recipient, address, lang, title, message,
	opened_at, created_at, status, attempts, next_attempt_at, last_error, sent_at, event, state, actions`

// enqueue writes a notice to the outbox, its address and message (a
// worker's carries the map link to a fall's position) encrypted with c. An
// empty Status is stored as pending.
func enqueue(ctx context.Context, q querier, c *fieldCipher, n tasks.Notice) error {
	if n.ID == "" {
		return errors.New("id is required")
	}
	if n.Status == "" {
		n.Status = tasks.NoticePending
	}
	address, err := c.seal(n.Address, addressAAD(n.ID))
	if err != nil {
		return err
	}
	message, err := c.seal(n.Message, messageAAD(n.ID))
	if err != nil {
		return err
	}
	actions := ""
	if len(n.Actions) > 0 {
		// The links carry tokens: sealed like the message.
		data, err := json.Marshal(n.Actions)
		if err != nil {
			return fmt.Errorf("encode actions: %w", err)
		}
		if actions, err = c.seal(string(data), actionsAAD(n.ID)); err != nil {
			return err
		}
	}
	if err := conflict(ctx, q, `SELECT 1 FROM notices WHERE id = ?`, n.ID); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO notices (`+noticeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.TaskID, n.HouseholdID, n.Rule, n.Severity, n.Channel, n.Role, n.Recipient, address, n.Lang,
		n.Title, message, toMS(n.OpenedAt), toMS(n.CreatedAt), n.Status, n.Attempts, toMS(n.NextAttemptAt),
		n.LastError, toNullMS(n.SentAt), n.Event, n.State, actions)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("task_id %q: %w", n.TaskID, registry.ErrUnknownReference)
	}
	return insertError(err)
}

func scanNotice(s scanner) (tasks.Notice, string, error) {
	var (
		n                            tasks.Notice
		opened, created, nextAttempt int64
		sent                         sql.NullInt64
		actions                      string
	)
	err := s.Scan(&n.ID, &n.TaskID, &n.HouseholdID, &n.Rule, &n.Severity, &n.Channel, &n.Role, &n.Recipient,
		&n.Address, &n.Lang, &n.Title, &n.Message, &opened, &created, &n.Status, &n.Attempts, &nextAttempt,
		&n.LastError, &sent, &n.Event, &n.State, &actions)
	if err != nil {
		return tasks.Notice{}, "", err
	}
	n.OpenedAt, n.CreatedAt, n.NextAttemptAt = fromMS(opened), fromMS(created), fromMS(nextAttempt)
	n.SentAt = fromNullMS(sent)
	return n, actions, nil
}

func (db *DB) notices(ctx context.Context, query string, args ...any) ([]tasks.Notice, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []tasks.Notice{}
	for rows.Next() {
		n, actions, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		if n.Address, err = db.fields.open(n.Address, addressAAD(n.ID)); err != nil {
			return nil, err
		}
		if n.Message, err = db.fields.open(n.Message, messageAAD(n.ID)); err != nil {
			return nil, err
		}
		if actions != "" {
			if actions, err = db.fields.open(actions, actionsAAD(n.ID)); err != nil {
				return nil, err
			}
			if err := json.Unmarshal([]byte(actions), &n.Actions); err != nil {
				return nil, fmt.Errorf("decode actions of notice %s: %w", n.ID, err)
			}
		}
		list = append(list, n)
	}
	return list, rows.Err()
}

// DueNotices lists pending notices whose next attempt is due at now, the
// longest waiting first (by next_attempt_at, then by insertion). limit defaults
// to DefaultNoticeLimit and is capped at MaxNoticeLimit.
func (db *DB) DueNotices(ctx context.Context, now time.Time, limit int) ([]tasks.Notice, error) {
	if limit <= 0 {
		limit = DefaultNoticeLimit
	}
	limit = min(limit, MaxNoticeLimit)
	list, err := db.notices(ctx, `SELECT `+noticeCols+` FROM notices
		WHERE status = ? AND next_attempt_at <= ?
		ORDER BY next_attempt_at, seq LIMIT ?`, tasks.NoticePending, toMS(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due notices: %w", err)
	}
	return list, nil
}

// NextNoticeAt is the earliest next attempt among pending notices; false when
// none is pending.
func (db *DB) NextNoticeAt(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx,
		`SELECT MIN(next_attempt_at) FROM notices WHERE status = ?`, tasks.NoticePending).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next notice time: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}

// RecordAttempt stores the result of a delivery attempt on the notice and
// appends a.Entry to its task's timeline, in one transaction. An Entry without
// a Type is not appended.
func (db *DB) RecordAttempt(ctx context.Context, noticeID string, a tasks.Attempt) error {
	switch a.Status {
	case tasks.NoticePending, tasks.NoticeSent, tasks.NoticeFailed:
	default:
		return fmt.Errorf("record attempt of notice %s: status %q: must be pending, sent or failed", noticeID, a.Status)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var taskID, householdID string
		err := tx.QueryRowContext(ctx, `SELECT task_id, household_id FROM notices WHERE id = ?`, noticeID).Scan(&taskID, &householdID)
		if errors.Is(err, sql.ErrNoRows) {
			return registry.ErrNotFound
		}
		if err != nil {
			return err
		}
		if registry.IsDeleted(householdID) {
			a = erasedAttempt(a) // deleted while this notice was being sent (erase.go)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE notices SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, sent_at = ?
			WHERE id = ?`,
			a.Status, a.Attempts, toMS(a.NextAttemptAt), a.LastError, toNullMS(a.SentAt), noticeID); err != nil {
			return err
		}
		if a.Entry.Type == "" {
			return nil
		}
		if err := addTimeline(ctx, tx, db.fields, taskID, a.Entry); err != nil {
			return fmt.Errorf("add timeline entry to task %s: %w", taskID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record attempt of notice %s: %w", noticeID, err)
	}
	return nil
}

// Notifications lists a task's notices, oldest first (by insertion). A task
// without notices, or that does not exist, gives an empty list.
func (db *DB) Notifications(ctx context.Context, taskID string) ([]tasks.Notice, error) {
	list, err := db.notices(ctx, `SELECT `+noticeCols+` FROM notices WHERE task_id = ? ORDER BY seq`, taskID)
	if err != nil {
		return nil, fmt.Errorf("list notifications of task %s: %w", taskID, err)
	}
	return list, nil
}

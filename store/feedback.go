package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/feedback"
	"github.com/eldersafe/eldersafe/registry"
)

// RecordFalseAlarm stores a task resolved false_alarm with a reason (once:
// a repeated call changes nothing) and counts its household's false alarms
// of the same rule and reason since since, itself included.
func (db *DB) RecordFalseAlarm(ctx context.Context, fa feedback.FalseAlarm, since time.Time) (int, error) {
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO false_alarms (task_id, household_id, rule, reason, at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (task_id) DO NOTHING`, fa.TaskID, fa.HouseholdID, fa.Rule, fa.Reason, toMS(fa.At)); err != nil {
			return insertError(err)
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM false_alarms WHERE household_id = ? AND rule = ? AND reason = ? AND at >= ?`,
			fa.HouseholdID, fa.Rule, fa.Reason, toMS(since)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("record false alarm of task %s: %w", fa.TaskID, err)
	}
	return n, nil
}

// AddSuggestion stores a pending suggestion under a new id, unless one is
// pending already for the same household, rule and parameter: then it
// reports false and stores nothing.
func (db *DB) AddSuggestion(ctx context.Context, s feedback.Suggestion) (feedback.Suggestion, bool, error) {
	from, err := json.Marshal(s.From)
	if err != nil {
		return s, false, fmt.Errorf("add suggestion: %w", err)
	}
	to, err := json.Marshal(s.To)
	if err != nil {
		return s, false, fmt.Errorf("add suggestion: %w", err)
	}
	// v7 ids sort by creation, so (created_at, id) lists them in the order made.
	s.ID, s.Status = uuid.Must(uuid.NewV7()).String(), feedback.Pending
	var added bool
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO suggestions (id, household_id, rule, param, from_value, to_value, because, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			s.ID, s.HouseholdID, s.Rule, s.Param, string(from), string(to), s.Because, s.Status, toMS(s.CreatedAt))
		if err != nil {
			return insertError(err)
		}
		n, err := res.RowsAffected()
		added = n == 1
		return err
	})
	if err != nil {
		return s, false, fmt.Errorf("add suggestion for household %s: %w", s.HouseholdID, err)
	}
	return s, added, nil
}

const suggestionCols = `id, household_id, rule, param, from_value, to_value, because, status, created_at`

func scanSuggestion(sc scanner) (feedback.Suggestion, error) {
	var (
		s        feedback.Suggestion
		from, to string
		created  int64
	)
	if err := sc.Scan(&s.ID, &s.HouseholdID, &s.Rule, &s.Param, &from, &to, &s.Because, &s.Status, &created); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(from), &s.From); err != nil {
		return s, fmt.Errorf("suggestion %s: from: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(to), &s.To); err != nil {
		return s, fmt.Errorf("suggestion %s: to: %w", s.ID, err)
	}
	s.CreatedAt = fromMS(created)
	return s, nil
}

// PendingSuggestions lists the suggestions awaiting a decision, oldest
// first; of one household when householdID is set.
func (db *DB) PendingSuggestions(ctx context.Context, householdID string) ([]feedback.Suggestion, error) {
	list, err := db.suggestions(ctx, `status = ? AND (? = '' OR household_id = ?)`, feedback.Pending, householdID, householdID)
	if err != nil {
		return nil, fmt.Errorf("list suggestions: %w", err)
	}
	return list, nil
}

// suggestions are those where says, oldest first.
func (db *DB) suggestions(ctx context.Context, where string, args ...any) ([]feedback.Suggestion, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+suggestionCols+` FROM suggestions WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []feedback.Suggestion{}
	for rows.Next() {
		s, err := scanSuggestion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Suggestion loads one suggestion; registry.ErrNotFound when there is none.
func (db *DB) Suggestion(ctx context.Context, id string) (feedback.Suggestion, error) {
	s, err := scanSuggestion(db.r.QueryRowContext(ctx, `SELECT `+suggestionCols+` FROM suggestions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("suggestion %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("load suggestion %s: %w", id, err)
	}
	return s, nil
}

// DecideSuggestion records an operator's decision (approved or rejected) on
// a pending suggestion; registry.ErrConflict when it was decided already.
func (db *DB) DecideSuggestion(ctx context.Context, id, status, by string, at time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE suggestions SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = ?`,
			status, by, toMS(at), id, feedback.Pending)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		found, err := exists(ctx, tx, `SELECT 1 FROM suggestions WHERE id = ?`, id)
		switch {
		case err != nil:
			return err
		case !found:
			return registry.ErrNotFound
		}
		return fmt.Errorf("decided already: %w", registry.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("decide suggestion %s: %w", id, err)
	}
	return nil
}

// FeedbackOf is everything a household's false alarms left: their reasons,
// and every suggestion they made, decided or not, oldest first (the
// household's export).
func (db *DB) FeedbackOf(ctx context.Context, householdID string) ([]feedback.FalseAlarm, []feedback.Suggestion, error) {
	alarms := []feedback.FalseAlarm{}
	rows, err := db.r.QueryContext(ctx, `SELECT task_id, rule, reason, at FROM false_alarms WHERE household_id = ? ORDER BY at, task_id`, householdID)
	if err != nil {
		return nil, nil, fmt.Errorf("false alarms of household %s: %w", householdID, err)
	}
	defer rows.Close()
	for rows.Next() {
		fa := feedback.FalseAlarm{HouseholdID: householdID}
		var at int64
		if err := rows.Scan(&fa.TaskID, &fa.Rule, &fa.Reason, &at); err != nil {
			return nil, nil, fmt.Errorf("false alarms of household %s: %w", householdID, err)
		}
		fa.At = fromMS(at)
		alarms = append(alarms, fa)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("false alarms of household %s: %w", householdID, err)
	}
	suggestions, err := db.suggestions(ctx, `household_id = ?`, householdID)
	if err != nil {
		return nil, nil, fmt.Errorf("suggestions of household %s: %w", householdID, err)
	}
	return alarms, suggestions, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// SetCareLevel changes a household's care level. An unknown household is
// registry.ErrNotFound.
func (db *DB) SetCareLevel(ctx context.Context, householdID string, level registry.CareLevel) error {
	if !level.Valid() {
		return fmt.Errorf("care_level %q: must be one of self_care, semi, dependent", level)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE households SET care_level = ? WHERE id = ? AND deleted_at IS NULL`, string(level), householdID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("household %s: %w", householdID, registry.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set care level of household %s: %w", householdID, err)
	}
	return nil
}

// RoutineHouseholds lists the registered households without a record of
// month's routine visits, by id.
func (db *DB) RoutineHouseholds(ctx context.Context, month string) ([]tasks.RoutineHousehold, error) {
	list, err := scanRoutineHouseholds(db.r.QueryContext(ctx, `
		SELECT `+routineHouseholdCols+` FROM households h
		WHERE h.deleted_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM routine_months m WHERE m.household_id = h.id AND m.month = ?)
		ORDER BY h.id`, month))
	if err != nil {
		return nil, fmt.Errorf("households without routine visits of %s: %w", month, err)
	}
	return list, nil
}

// routineHouseholdCols are what scanRoutineHouseholds scans, of households h.
const routineHouseholdCols = `h.id, h.grid_id, h.care_level`

// scanRoutineHouseholds reads the rows of a query of routineHouseholdCols.
func scanRoutineHouseholds(rows *sql.Rows, err error) ([]tasks.RoutineHousehold, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []tasks.RoutineHousehold{}
	for rows.Next() {
		var (
			h     tasks.RoutineHousehold
			level string
		)
		if err := rows.Scan(&h.ID, &h.GridID, &level); err != nil {
			return nil, err
		}
		h.CareLevel = registry.CareLevel(level)
		list = append(list, h)
	}
	return list, rows.Err()
}

// RoutineSamples lists the routine visits due in [from, to) with their
// household's grid, and counts the registered households of every grid.
func (db *DB) RoutineSamples(ctx context.Context, from, to time.Time) ([]tasks.RoutineSample, map[string]int, error) {
	list := []tasks.RoutineSample{}
	households := map[string]int{}
	err := db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT h.grid_id, t.state, t.outcome, t.due_at
			FROM tasks t JOIN households h ON h.id = t.household_id
			WHERE t.kind = ? AND t.due_at >= ? AND t.due_at < ?`,
			string(rules.RoutineVisit), toMS(from), toMS(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				s     tasks.RoutineSample
				state string
				due   int64
			)
			if err := rows.Scan(&s.GridID, &state, &s.Outcome, &due); err != nil {
				return err
			}
			s.State, s.DueAt = tasks.State(state), fromMS(due)
			list = append(list, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		grids, err := tx.QueryContext(ctx, `SELECT grid_id, COUNT(*) FROM households WHERE deleted_at IS NULL GROUP BY grid_id`)
		if err != nil {
			return err
		}
		defer grids.Close()
		for grids.Next() {
			var (
				grid string
				n    int
			)
			if err := grids.Scan(&grid, &n); err != nil {
				return err
			}
			households[grid] = n
		}
		return grids.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("routine visits due from %s: %w", from.Format(time.RFC3339), err)
	}
	return list, households, nil
}

// RoutineHouseholdsOf loads the registered households among ids, by id,
// in one query: the month's pass schedules hundreds of households a
// transaction.
func (t *taskTx) RoutineHouseholdsOf(ctx context.Context, ids []string) (map[string]tasks.RoutineHousehold, error) {
	list, err := scanRoutineHouseholds(t.tx.QueryContext(ctx, `SELECT `+routineHouseholdCols+` FROM households h
		WHERE h.deleted_at IS NULL AND h.id `+t.dialect.inList(), listArg(ids)))
	if err != nil {
		return nil, fmt.Errorf("households for routine visits: %w", err)
	}
	out := make(map[string]tasks.RoutineHousehold, len(list))
	for _, h := range list {
		out[h.ID] = h
	}
	return out, nil
}

// MarkRoutineMonths records month's visits of households, batchRows to a
// statement, and returns those it marked: the others were marked already.
func (t *taskTx) MarkRoutineMonths(ctx context.Context, month string, visits map[string]int, at time.Time) (map[string]bool, error) {
	ids := slices.Sorted(maps.Keys(visits))
	fresh := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, batchRows) {
		args := make([]any, 0, 4*len(chunk))
		for _, id := range chunk {
			args = append(args, id, month, visits[id], toMS(at))
		}
		marked, err := strings1(ctx, t.tx, insertRows("routine_months", "household_id, month, visits, scheduled_at", len(chunk))+`
			ON CONFLICT (household_id, month) DO NOTHING RETURNING household_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("mark routine visits of %d households for %s: %w", len(chunk), month, err)
		}
		for _, id := range marked {
			fresh[id] = true
		}
	}
	return fresh, nil
}

func (t *taskTx) InsertRating(ctx context.Context, r tasks.Rating) error {
	err := savepoint(ctx, t.tx, func() error {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO task_ratings (task_id, rated_by, stars, comment, at) VALUES (?, ?, ?, ?, ?)`,
			r.TaskID, r.By, r.Stars, r.Comment, toMS(r.At))
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("rating of task %s by %s: %w", r.TaskID, r.By, registry.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert rating of task %s: %w", r.TaskID, err)
	}
	return nil
}

// RatingsBy finds by's ratings of the tasks taskIDs, by task id.
func (db *DB) RatingsBy(ctx context.Context, by string, taskIDs []string) (map[string]tasks.Rating, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT task_id, stars, comment, at FROM task_ratings
		WHERE rated_by = ? AND task_id `+db.dialect.inList(), by, listArg(taskIDs))
	if err != nil {
		return nil, fmt.Errorf("ratings by %s: %w", by, err)
	}
	defer rows.Close()
	out := map[string]tasks.Rating{}
	for rows.Next() {
		r := tasks.Rating{By: by}
		var at int64
		if err := rows.Scan(&r.TaskID, &r.Stars, &r.Comment, &at); err != nil {
			return nil, fmt.Errorf("ratings by %s: %w", by, err)
		}
		r.At = fromMS(at)
		out[r.TaskID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ratings by %s: %w", by, err)
	}
	return out, nil
}

// WorkersWithOnlyAPhone counts the workers who have a phone and no push
// URL: without an SMS provider their notices go to the log.
func (db *DB) WorkersWithOnlyAPhone(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM workers WHERE phone <> '' AND push_url = ''`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count workers with only a phone: %w", err)
	}
	return n, nil
}

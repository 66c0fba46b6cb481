package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/eldersafe/eldersafe/registry"
)

// The office's directory: every grid, worker and user, and the edits of
// grids and workers (a household is edited by ImportHousehold).

// Grids lists every grid, by id.
func (db *DB) Grids(ctx context.Context) ([]registry.Grid, error) {
	list := []registry.Grid{}
	err := db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, supervisor_id, backup_worker_id FROM grids ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g registry.Grid
			if err := rows.Scan(&g.ID, &g.Name, &g.SupervisorID, &g.BackupWorkerID); err != nil {
				return err
			}
			list = append(list, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list grids: %w", err)
	}
	return list, nil
}

// Workers lists every worker by id, each with its grids in the order
// registered (never nil).
func (db *DB) Workers(ctx context.Context) ([]registry.Worker, error) {
	list := []registry.Worker{}
	err := db.read(ctx, func(tx *sql.Tx) error {
		list = list[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id, name, phone, role, push_url, lang, created_at, created_by FROM workers ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := map[string]int{}
		for rows.Next() {
			var (
				w       registry.Worker
				created int64
			)
			if err := rows.Scan(&w.ID, &w.Name, &w.Phone, &w.Role, &w.PushURL, &w.Lang, &created, &w.CreatedBy); err != nil {
				return err
			}
			w.CreatedAt, w.GridIDs = fromMS(created), []string{}
			index[w.ID] = len(list)
			list = append(list, w)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		grids, err := tx.QueryContext(ctx, `SELECT worker_id, grid_id FROM worker_grids ORDER BY worker_id, position`)
		if err != nil {
			return err
		}
		defer grids.Close()
		for grids.Next() {
			var workerID, gridID string
			if err := grids.Scan(&workerID, &gridID); err != nil {
				return err
			}
			if i, ok := index[workerID]; ok {
				list[i].GridIDs = append(list[i].GridIDs, gridID)
			}
		}
		return grids.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return list, nil
}

// Users lists every user by id, with their password hashes.
func (db *DB) Users(ctx context.Context) ([]registry.User, error) {
	list := []registry.User{}
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		list = append(list, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return list, nil
}

// UpdateGrid replaces a grid's name, supervisor and backup worker.
// Unknown: registry.ErrNotFound.
func (db *DB) UpdateGrid(ctx context.Context, g registry.Grid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE grids SET name = ?, supervisor_id = ?, backup_worker_id = ? WHERE id = ?`,
			g.Name, g.SupervisorID, g.BackupWorkerID, g.ID)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err != nil {
		return fmt.Errorf("update grid %s: %w", g.ID, err)
	}
	return nil
}

// UpdateWorker replaces a worker's name, phone, push URL, language and
// grids, every one of which must exist. Its role, registration time and
// place in registration order (which makes a grid's primary worker) stay.
// Unknown: registry.ErrNotFound.
func (db *DB) UpdateWorker(ctx context.Context, w registry.Worker) error {
	if err := w.Validate(); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE workers SET name = ?, phone = ?, push_url = ?, lang = ? WHERE id = ?`,
			w.Name, w.Phone, w.PushURL, w.Lang, w.ID)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		grids := uniqueStrings(w.GridIDs)
		for _, g := range grids {
			if err := reference(ctx, tx, "grid_ids", g, `SELECT 1 FROM grids WHERE id = ?`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM worker_grids WHERE worker_id = ?`, w.ID); err != nil {
			return err
		}
		for i, g := range grids {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO worker_grids (worker_id, grid_id, position) VALUES (?, ?, ?)`, w.ID, g, i); err != nil {
				return insertError(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update worker %s: %w", w.ID, err)
	}
	return nil
}

// oneRow is registry.ErrNotFound when an update touched no row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return registry.ErrNotFound
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/eldersafe/eldersafe/registry"
)

// Households lists registered households ordered by id, at most limit of
// them (limit < 1: every one). gridIDs nil lists every grid's, an empty
// non-nil gridIDs none. A listing carries what a household is called, where
// it is and its grid: no contacts or other sensitive fields (Contacts is
// nil); load one household for those. Deleted households are not listed.
func (db *DB) Households(ctx context.Context, gridIDs []string, limit int) ([]registry.Household, error) {
	list := []registry.Household{}
	if gridIDs != nil && len(gridIDs) == 0 {
		return list, nil
	}
	query := `SELECT id, name, address, grid_id, timezone, care_level FROM households WHERE deleted_at IS NULL`
	var args []any
	if gridIDs != nil {
		grids := uniqueStrings(gridIDs)
		query += ` AND grid_id IN (?` + strings.Repeat(", ?", len(grids)-1) + `)`
		for _, g := range grids {
			args = append(args, g)
		}
	}
	query += ` ORDER BY id`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	err := db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				h     registry.Household
				level string
			)
			if err := rows.Scan(&h.ID, &h.Name, &h.Address, &h.GridID, &h.Timezone, &level); err != nil {
				return err
			}
			h.CareLevel = registry.CareLevel(level)
			list = append(list, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list households: %w", err)
	}
	return list, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// insertRows is an INSERT of n rows into table: one placeholder for each
// of cols (a comma-separated list) in each row, counted so that a column
// added to cols cannot be missed.
func insertRows(table, cols string, n int) string {
	row := `(?` + strings.Repeat(", ?", strings.Count(cols, ",")) + `)`
	return `INSERT INTO ` + table + ` (` + cols + `) VALUES ` + row + strings.Repeat(", "+row, n-1)
}

// batchRows is the most rows a rowBatch inserts with one statement: 640
// arguments for ten columns, far below SQLite's 32,766 and PostgreSQL's
// 65,535.
const batchRows = 64

// rowBatch inserts rows into one table several at a time, in one
// transaction: with the statement's own cost (binding, running, finishing
// it) paid once for up to batchRows rows, an import's device rows cost a
// third of what they did one statement each (docs/performance.md, "Import,
// fifth round"). A failed statement does not say which of its rows was
// refused: a caller that must know inserts one row at a time.
type rowBatch struct {
	tx          *sql.Tx
	table, cols string
	// onConflict ends each statement of an upsert (newUpsertBatch).
	onConflict string
	// keys are the conflict keys of the rows queued, for reserve.
	keys []string
	// saved, when set, is told of each statement's rows (first: how many
	// rows were added before them) how many it saved, inserted or
	// updated: an upsert's WHERE may leave a row as it was.
	saved func(first, rows int, n int64) error
	sent  int // rows flushed so far
	ncols int
	args  []any
	stmts map[int]*sql.Stmt // by rows, powers of two up to batchRows
}

func newRowBatch(tx *sql.Tx, table, cols string) *rowBatch {
	ncols := strings.Count(cols, ",") + 1
	return &rowBatch{tx: tx, table: table, cols: cols, ncols: ncols,
		args: make([]any, 0, batchRows*ncols), stmts: make(map[int]*sql.Stmt)}
}

// newUpsertBatch is a rowBatch whose statements end in onConflict, an ON
// CONFLICT clause: each row is reserved (by its conflict key) before it is
// added.
func newUpsertBatch(tx *sql.Tx, table, cols, onConflict string) *rowBatch {
	b := newRowBatch(tx, table, cols)
	b.onConflict = onConflict
	return b
}

// reserve makes room for a row of an upsert's conflict key among the rows
// queued, and returns its place there: it flushes them first when
// batchRows are queued, or one of the same key, since PostgreSQL refuses
// a statement that updates a row twice.
func (b *rowBatch) reserve(ctx context.Context, key string) (int, error) {
	if len(b.keys) == batchRows || slices.Contains(b.keys, key) {
		if err := b.flush(ctx); err != nil {
			return 0, err
		}
	}
	b.keys = append(b.keys, key)
	return len(b.keys) - 1, nil
}

// add queues a row, its values in cols order; an upsert's, once reserved.
func (b *rowBatch) add(row ...any) error {
	if len(row) != b.ncols {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.table, len(row), b.ncols)
	}
	if b.onConflict != "" && len(b.keys) != b.queued()+1 {
		return fmt.Errorf("insert into %s: a row added without its key reserved", b.table)
	}
	b.args = append(b.args, row...)
	return nil
}

// queued is how many rows wait for flush.
func (b *rowBatch) queued() int { return len(b.args) / b.ncols }

// flush inserts the queued rows, in statements of a power of two rows each
// (batchRows at most), so that a transaction prepares at most seven of them
// whatever the sizes of its batches.
func (b *rowBatch) flush(ctx context.Context) error {
	done := 0
	for rows := batchRows; done < len(b.args); rows /= 2 {
		for n := rows * b.ncols; len(b.args)-done >= n; done += n {
			st, err := b.stmt(ctx, rows)
			if err != nil {
				return err
			}
			res, err := st.ExecContext(ctx, b.args[done:done+n]...)
			if err != nil {
				return fmt.Errorf("insert %d rows into %s%s: %w", rows, b.table, b.keyRange(done/b.ncols, rows), err)
			}
			if b.saved != nil {
				saved, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("insert %d rows into %s%s: %w", rows, b.table, b.keyRange(done/b.ncols, rows), err)
				}
				if err := b.saved(b.sent, rows, saved); err != nil {
					return err
				}
			}
			b.sent += rows
		}
	}
	clear(b.args)
	b.args = b.args[:0]
	clear(b.keys)
	b.keys = b.keys[:0]
	return nil
}

// keyRange names the first and last keys of the queued rows [from,
// from+rows) of an upsert, for an error; "" for an insert.
func (b *rowBatch) keyRange(from, rows int) string {
	if len(b.keys) < from+rows {
		return ""
	}
	return fmt.Sprintf(" (%s to %s)", b.keys[from], b.keys[from+rows-1])
}

func (b *rowBatch) stmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	if st, ok := b.stmts[rows]; ok {
		return st, nil
	}
	st, err := b.tx.PrepareContext(ctx, insertRows(b.table, b.cols, rows)+b.onConflict)
	if err != nil {
		return nil, fmt.Errorf("prepare an insert of %d rows into %s: %w", rows, b.table, err)
	}
	b.stmts[rows] = st
	return st, nil
}

// close releases the prepared statements; rows still queued are dropped.
func (b *rowBatch) close() {
	for _, st := range b.stmts {
		st.Close()
	}
}

package store

import (
	"context"
	"database/sql"
	"fmt"
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
	// onConflict ends each statement: an upsert's ON CONFLICT clause, or
	// empty. PostgreSQL refuses a statement that updates a row twice: the
	// caller flushes before a row's key comes again.
	onConflict string
	ncols      int
	args       []any
	stmts      map[int]*sql.Stmt // by rows, powers of two up to batchRows
}

func newRowBatch(tx *sql.Tx, table, cols string) *rowBatch {
	ncols := strings.Count(cols, ",") + 1
	return &rowBatch{tx: tx, table: table, cols: cols, ncols: ncols,
		args: make([]any, 0, batchRows*ncols), stmts: make(map[int]*sql.Stmt)}
}

// add queues a row, its values in cols order.
func (b *rowBatch) add(row ...any) error {
	if len(row) != b.ncols {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.table, len(row), b.ncols)
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
			if _, err := st.ExecContext(ctx, b.args[done:done+n]...); err != nil {
				return fmt.Errorf("insert %d rows into %s: %w", rows, b.table, err)
			}
		}
	}
	clear(b.args)
	b.args = b.args[:0]
	return nil
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

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// OutboxBacklog says how far the outbox is behind at wall time now: how many
// notices are pending (due, waiting for a retry, or held for quiet hours),
// and since when the longest-waiting due one has been due (zero when none
// is due).
func (db *DB) OutboxBacklog(ctx context.Context, now time.Time) (pending int, oldestDue time.Time, err error) {
	var oldest sql.NullInt64
	err = db.r.QueryRowContext(ctx, `SELECT COUNT(*),
			MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
		FROM notices WHERE status = ?`, toMS(now), tasks.NoticePending).Scan(&pending, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox backlog: %w", err)
	}
	if oldest.Valid {
		oldestDue = fromMS(oldest.Int64)
	}
	return pending, oldestDue, nil
}

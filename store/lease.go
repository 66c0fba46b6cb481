package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The leader lease of high availability (CONTRACT §15), PostgreSQL only: the
// ha_lease row names the monitor that works, until expires_at (the
// database's clock, which every monitor shares). epoch counts the changes of
// holder.
//
// Fencing: once a monitor holds the lease it calls Fence, and from then on
// every write transaction begins by reading the lease row FOR SHARE and
// checking that the holder and epoch are still its own. A takeover updates
// that row, so it waits for the write transactions in progress and every
// later one fails with ErrNotLeader: a monitor that lost the lease while
// paused (a long GC, a frozen VM) cannot write behind its successor's back,
// whatever its own clock says. The one exception is the audit log, which a
// standby appends to for the reads it serves (AppendAudit).

// ErrNotLeader is the error of a write by a monitor that no longer holds
// the lease.
var ErrNotLeader = errors.New("store: this monitor no longer holds the leader lease")

// ErrNoLease is AcquireLease's error on SQLite, which one monitor owns alone.
var ErrNoLease = errors.New("store: the leader lease needs PostgreSQL")

const leaseName = "leader"

type fence struct {
	holder string
	epoch  int64
}

// AcquireLease takes the lease for holder for ttl when it is free, expired
// or already holder's, and says so with the lease's epoch; ok is false while
// another monitor holds it. Renewing keeps the epoch; taking it over from
// another holder increments it.
func (db *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (epoch int64, ok bool, err error) {
	if db.lease == nil {
		return 0, false, ErrNoLease
	}
	err = db.lease.QueryRowContext(ctx, `
		INSERT INTO ha_lease (name, holder, epoch, expires_at)
		VALUES (?, ?, 1, now() + CAST(? AS bigint) * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET
			holder = excluded.holder,
			epoch = CASE WHEN ha_lease.holder = excluded.holder THEN ha_lease.epoch ELSE ha_lease.epoch + 1 END,
			expires_at = excluded.expires_at
		WHERE ha_lease.holder = excluded.holder OR ha_lease.expires_at < now()
		RETURNING epoch`, leaseName, holder, ttl.Milliseconds()).Scan(&epoch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("acquire leader lease: %w", err)
	}
	return epoch, true, nil
}

// ReleaseLease ends holder's lease now, so that a standby need not wait for
// it to expire. A lease holder no longer holds is left alone.
func (db *DB) ReleaseLease(ctx context.Context, holder string) error {
	if db.lease == nil {
		return ErrNoLease
	}
	_, err := db.lease.ExecContext(ctx, `UPDATE ha_lease SET expires_at = now() - interval '1 millisecond'
		WHERE name = ? AND holder = ?`, leaseName, holder)
	if err != nil {
		return fmt.Errorf("release leader lease: %w", err)
	}
	return nil
}

// Fence makes every later write transaction check that holder still holds
// the lease at epoch, and fail with ErrNotLeader once it does not.
func (db *DB) Fence(holder string, epoch int64) {
	db.fence.Store(&fence{holder: holder, epoch: epoch})
}

// checkFence is the first statement of a write transaction under a fence.
func (db *DB) checkFence(ctx context.Context, tx *sql.Tx) error {
	f := db.fence.Load()
	if f == nil {
		return nil
	}
	held, err := exists(ctx, tx, `SELECT 1 FROM ha_lease WHERE name = ? AND holder = ? AND epoch = ? FOR SHARE`,
		leaseName, f.holder, f.epoch)
	switch {
	case err != nil:
		return fmt.Errorf("check leader lease: %w", err)
	case !held:
		return ErrNotLeader
	}
	return nil
}

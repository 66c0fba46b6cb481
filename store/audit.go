package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/audit"
)

const auditCols = `seq, at, actor, role, action, object, remote, reason, prev_hash, hash`

// AppendAudit adds entries to the end of the audit log in one transaction,
// chaining each to the one before and moving the head. It returns them with
// their numbers and hashes.
//
// It is the one write a standby monitor makes (lease.go): the reads it
// serves are audited too. Two monitors appending at once cannot fork the
// chain, whose seq is the table's primary key: the later one fails and
// tries again on the new end.
func (db *DB) AppendAudit(ctx context.Context, key []byte, entries ...audit.Entry) ([]audit.Entry, error) {
	var err error
	for range 3 {
		if err = db.appendAudit(ctx, key, entries); !isUniqueViolation(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("append to audit log: %w", err)
	}
	return entries, nil
}

func (db *DB) appendAudit(ctx context.Context, key []byte, entries []audit.Entry) error {
	return db.transact(ctx, false, func(tx *sql.Tx) error {
		prev, err := scanAudit(tx.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
		var last *audit.Entry
		switch {
		case err == nil:
			last = &prev
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		rows := newRowBatch(tx, "audit_log", auditCols)
		defer rows.close()
		for i := range entries {
			e := &entries[i]
			e.Seq = 1
			if last != nil {
				e.Seq = last.Seq + 1
			}
			e.At = e.At.UTC().Truncate(time.Millisecond)
			e.Seal(last, key)
			if err := rows.add(e.Seq, toMS(e.At), e.Actor, e.Role, e.Action, e.Object, e.Remote, e.Reason, e.Prev, e.Hash); err != nil {
				return err
			}
			last = e
		}
		if last == nil {
			return nil
		}
		if err := rows.flush(ctx); err != nil {
			return err
		}
		head := audit.Head{Seq: last.Seq, Hash: last.Hash}
		head.Seal(key)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`, head.Seq, head.Hash, head.MAC)
		return err
	})
}

// VerifyAudit recomputes the audit chain from its first entry to its head. It
// returns how many entries are intact, or an *audit.BrokenError naming the
// first entry that was altered, inserted or removed, or audit.ErrKeyMismatch
// when nothing in the log verifies under key.
func (db *DB) VerifyAudit(ctx context.Context, key []byte) (int64, error) {
	var n int64
	err := db.read(ctx, func(tx *sql.Tx) error {
		var head audit.Head
		err := tx.QueryRowContext(ctx, `SELECT seq, hash, mac FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash, &head.MAC)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		v := audit.NewVerifier(key, head)
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			if !v.Next(e) {
				break
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n, err = v.Finish(); err != nil || n > 0 {
			return err
		}
		// Registering a household is logged: personal data with an empty
		// log means the log was emptied.
		found, err := exists(ctx, tx, `SELECT 1 FROM households LIMIT 1`)
		if err == nil && found {
			err = &audit.BrokenError{Seq: 1, Reason: "removed (the log is empty, yet households are registered)"}
		}
		return err
	})
	var broken *audit.BrokenError
	if err != nil && !errors.As(err, &broken) && !errors.Is(err, audit.ErrKeyMismatch) {
		return n, fmt.Errorf("verify audit log: %w", err)
	}
	return n, err
}

// Audit lists audit entries by actor and object (empty matches every one),
// newest first, at most limit (1 to 1000).
func (db *DB) Audit(ctx context.Context, actor, object string, limit int) ([]audit.Entry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log
		WHERE (? = '' OR actor = ?) AND (? = '' OR object = ?)
		ORDER BY seq DESC LIMIT ?`, actor, actor, object, object, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	entries := []audit.Entry{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return entries, nil
}

func scanAudit(s scanner) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	err := s.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Object, &e.Remote, &e.Reason, &e.Prev, &e.Hash)
	e.At = fromMS(at)
	return e, err
}

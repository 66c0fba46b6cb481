// Package store keeps eldersafe's state in SQLite or PostgreSQL: the registry
// (grids, workers, households, devices), tasks with their evidence and
// timelines, the durable notification outbox, and small settings.
//
// By default the database is one file, {dataDir}/eldersafe.db, opened with
// the pure-Go driver modernc.org/sqlite in WAL mode. WithURL names a
// PostgreSQL database instead (postgres.go), which several monitors can share
// for high availability (lease.go). The schema is managed by goose migrations
// embedded in the binary (migrations/: one source for both databases,
// migrate.go) and applied by Open.
//
// Times are stored as INTEGER Unix milliseconds UTC and come back in UTC,
// truncated to the millisecond: a time round-trips equal once the caller has
// applied .UTC().Truncate(time.Millisecond) to it. The zero time.Time
// round-trips to the zero time.Time. JSON documents (contacts, evidence values,
// timeline data) are TEXT; numbers in them come back as float64.
//
// Sensitive values (households' contacts and medical notes, notices'
// addresses and texts, positions and heart rates in evidence and timelines,
// the rules' saved state) are encrypted at rest with the key given by
// WithFieldKey, and decrypted transparently by every method that returns
// them (fields.go).
//
// Writes go through a single connection, so concurrent writers in one process
// queue in database/sql instead of failing with SQLITE_BUSY (or, on
// PostgreSQL, conflicting); SQLite transactions begin IMMEDIATE, and
// busy_timeout covers other processes. Reads use a separate
// pool of read-only connections and never wait for writers. Consequently a
// function passed to Update must not call the DB's own write methods (they
// would wait for the connection it holds); it uses the tasks.Tx it is given.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/eldersafe/eldersafe/tasks"
)

// FileName is the database file inside the data directory.
const FileName = "eldersafe.db"

//go:embed migrations/*.sql
var migrations embed.FS

// DB is eldersafe's store, on SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	// w is the only connection that writes.
	w *sql.DB
	// r is a pool of read-only connections.
	r *sql.DB
	// lease is PostgreSQL's connection for the leader lease; nil on SQLite.
	lease   *sql.DB
	dialect *dialect
	// fence, once set, is the lease every write transaction checks (lease.go).
	fence  atomic.Pointer[fence]
	logger *slog.Logger
	// now stamps created_at and updated_at columns that no caller supplies.
	now func() time.Time
	// fields encrypts sensitive values (fields.go); nil without a key.
	fields *fieldCipher
	// checkpoints copies SQLite's WAL into the database beside the writer
	// (checkpoint.go); nil on PostgreSQL.
	checkpoints *checkpointer
	// writes orders the transactions waiting for SQLite's one writer
	// connection, an alarm's first (writequeue.go); nil on PostgreSQL.
	writes *writeQueue
}

// Open opens (creating it if needed) the database under dataDir, or the
// PostgreSQL database WithURL names, and applies any pending migrations.
// Given WithFieldKey, it checks the key against the database and encrypts
// sensitive values still in plaintext (fields.go).
func Open(ctx context.Context, dataDir string, logger *slog.Logger, opts ...Option) (*DB, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.url != "" {
		return openURL(ctx, o, logger)
	}
	if dataDir == "" {
		return nil, errors.New("open store: data dir is required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: create data dir: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dataDir, FileName))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	singleConnection(w)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, w, sqliteDialect, logger); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	ck, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	singleConnection(ck)
	db := &DB{w: w, r: r, dialect: sqliteDialect, logger: logger, now: time.Now, writes: &writeQueue{}}
	db.checkpoints = startCheckpoints(ck, db.onWriter, logger)
	if err := db.setUpFields(ctx, o.fieldKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	logger.Info("store opened", "path", path, "fields_encrypted", o.fieldKey != nil)
	return db, nil
}

// openURL opens the PostgreSQL database o.url names.
func openURL(ctx context.Context, o openOptions, logger *slog.Logger) (*DB, error) {
	if !IsPostgresURL(o.url) {
		return nil, errors.New("open store: store.url must be empty (SQLite) or postgres://…")
	}
	w, r, lease, err := openPostgres(ctx, o.url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db := &DB{w: w, r: r, lease: lease, dialect: postgresDialect, logger: logger, now: time.Now}
	if err := migrate(ctx, w, postgresDialect, logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.setUpFields(ctx, o.fieldKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	logger.Info("store opened", "database", "postgresql", "fields_encrypted", o.fieldKey != nil)
	return db, nil
}

// dsn is the modernc.org/sqlite data source name of the database at path.
// The file: URI form lets path hold any character ('?', '#', '%' are escaped).
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Deleted and overwritten content is zeroed, not left in free space: a
	// value replaced by its encrypted form leaves no plaintext behind, and
	// an erased household's details do not linger (store/erase.go).
	q.Add("_pragma", "secure_delete(ON)")
	// Savepoints' journals in memory, not in a temporary file: an import
	// writing a chunk a household at a time takes one per household, and
	// their writes were a quarter of its CPU (docs/performance.md). They
	// hold the pages one savepoint changed.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	if readOnly {
		// Applied after the pragmas above; a reader can then write nothing.
		q.Set("_query_only", "1")
	} else {
		// The writer's own checkpoint, a backstop far past the default
		// 1,000 pages: the background copies the WAL and lets it start
		// again (checkpoint.go).
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// singleConnection keeps db to one connection, open for good: SQLite's
// settings are a connection's, and one writer queues its callers.
func singleConnection(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.checkpoints != nil {
		errs = append(errs, db.checkpoints.close())
	}
	errs = append(errs, db.r.Close(), db.w.Close())
	if db.lease != nil {
		errs = append(errs, db.lease.Close())
	}
	return errors.Join(errs...)
}

// write runs fn in one IMMEDIATE transaction on the writer connection.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.transact(ctx, true, fn)
}

// rowsContext is ctx for the statements of a write that runs some for every
// row (an import, a checkpoint, the readings roll-up). On a context that
// can be cancelled the driver watches it with a goroutine of its own for
// every statement (modernc.org/sqlite's interruptOnDone): 2.6 KB and a
// goroutine per device imported. Cancelling ctx still ends the write:
// database/sql rolls back a transaction whose context is done, and the next
// statement fails.
func rowsContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// transact runs fn in one write transaction, fenced or not (lease.go).
func (db *DB) transact(ctx context.Context, fenced bool, fn func(*sql.Tx) error) error {
	tx, done, err := db.begin(ctx, fenced)
	if err != nil {
		return err
	}
	defer done()
	// After Commit, Rollback does nothing; on an error or a panic in fn it undoes everything.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// begin starts a write transaction, in its turn on SQLite (an alarm's
// first, tasks.Urgent); fenced, under a fence (lease.go), one that holds the
// lease until it ends. The caller calls done once the transaction is over.
func (db *DB) begin(ctx context.Context, fenced bool) (tx *sql.Tx, done func(), err error) {
	done = func() {}
	if db.writes != nil {
		if err := db.writes.enter(ctx, tasks.IsUrgent(ctx)); err != nil {
			return nil, nil, fmt.Errorf("begin: %w", err)
		}
		done = db.writes.leave
	}
	if tx, err = db.w.BeginTx(ctx, nil); err != nil {
		done()
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	if !fenced {
		return tx, done, nil
	}
	if err := db.checkFence(ctx, tx); err != nil {
		tx.Rollback()
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

// onWriter runs fn on SQLite's writer connection in its turn, between two
// transactions: a checkpoint that lets the WAL start again.
func (db *DB) onWriter(ctx context.Context, fn func(*sql.Conn) error) error {
	if err := db.writes.enter(ctx, false); err != nil {
		return err
	}
	defer db.writes.leave()
	w, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer w.Close() // back to the writer's pool, open
	return fn(w)
}

// preparedTx runs a transaction's statements prepared once each on SQLite:
// the month's routine visits run the same dozen statements for thousands
// of households in one transaction, and SQLite preparing each one again was
// a third of their CPU (docs/performance.md, "Routine visits, statements
// prepared once"). The statements are closed with the transaction. On
// PostgreSQL (stmts nil) they pass through: pgx caches them itself, and
// preparing each in its own round trip would double one that runs once.
type preparedTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (db *DB) prepared(tx *sql.Tx) *preparedTx {
	p := &preparedTx{Tx: tx}
	if !db.dialect.postgres {
		p.stmts = make(map[string]*sql.Stmt)
	}
	return p
}

// stmt is query prepared, or nil to run it as it is: on PostgreSQL, or
// when it does not prepare, so that running it gives the error where it is
// handled.
func (p *preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if p.stmts == nil {
		return nil
	}
	if s, ok := p.stmts[query]; ok {
		return s
	}
	s, err := p.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.stmts[query] = s
	return s
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return p.Tx.ExecContext(ctx, query, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return p.Tx.QueryContext(ctx, query, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return p.Tx.QueryRowContext(ctx, query, args...)
}

// savepoint runs fn, statements of tx, so that their failure (a conflict
// the caller handles) leaves tx usable: PostgreSQL would otherwise refuse
// every later statement of the transaction.
func savepoint(ctx context.Context, tx querier, fn func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT stmt`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT stmt`); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT stmt`)
	return err
}

// read runs fn in one read-only transaction, so that what it reads is
// consistent (on PostgreSQL, one snapshot for every statement).
func (db *DB) read(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect.postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// exists reports whether query, a SELECT of one row, finds it.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY ||
		pgCode(err) == "23505"
}

// isForeignKeyViolation reports a FOREIGN KEY constraint failure.
func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503"
}

// Times are INTEGER Unix milliseconds UTC.

func toMS(t time.Time) int64 { return t.UnixMilli() }

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func toNullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMS(n.Int64)
	return &t
}

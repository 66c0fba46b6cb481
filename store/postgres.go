package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL runs the same SQL as SQLite, through database/sql and pgx's
// stdlib driver: one code path for both databases, so that the store suite
// tests the same statements twice. The differences are few and sit here:
//
//   - placeholders: the store writes ?; PostgreSQL connections rewrite them to
//     $1, $2… (rebind) before pgx sees the statement;
//   - the schema: the same migrations, their types translated (migrate.go);
//   - what SQLite spells with its own functions and pragmas: the dialect;
//   - errors: constraint violations by SQLSTATE instead of SQLite codes.

// dialect is what differs between the two databases' SQL.
type dialect struct {
	// postgres is set for PostgreSQL.
	postgres bool
	// jsonArray is a table with one column, value: the elements of the JSON
	// array of strings given as its one parameter (inList).
	jsonArray string
	// tables lists the schema's tables; columns a table's columns (one
	// parameter: the table); foreignKeys a table's single-column foreign
	// keys as (column, parent table).
	tables, columns, foreignKeys string
	// plaintextRuleStates finds the rules' states not sealed: the query of
	// migration 00075's partial index, whose blob literal each spells its
	// own way.
	plaintextRuleStates string
	// meterRegisterSaved is how a reading's upsert of a meter's register
	// (saveMeterRegisters) finds the row it updates: the key its table is
	// kept by where the dialect allows more than one conflict target.
	meterRegisterSaved string
}

var sqliteDialect = &dialect{
	jsonArray:   `SELECT value FROM json_each(?)`,
	tables:      `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
	columns:     `SELECT name FROM pragma_table_info(?)`,
	foreignKeys: `SELECT "from", "table" FROM pragma_foreign_key_list(?)`,
	plaintextRuleStates: `SELECT household_id, data FROM rule_state
		WHERE length(data) > 0 AND substr(data, 1, 7) <> X'656E633A76313A'`,
	// By the table's key (migration 00078), whose pages a flush writes in
	// order, not by the index of device ids, which a probe for each row
	// read at random: with device ids that do not begin with their
	// household's, as a meter's serial number does not, an eighth of
	// 1,334,226 registers took 17.1–18.5 s and 208,657 page reads against
	// 9.2–9.9 s and 45,565 (docs/performance.md, "Thirty-ninth round").
	// A meter moved to another household is none of these rows.
	meterRegisterSaved: `
		ON CONFLICT (household_id, device_id) DO UPDATE SET
			field = excluded.field, value = excluded.value, read_at = excluded.read_at
		WHERE excluded.read_at >= meter_registers.read_at OR excluded.field <> meter_registers.field
		ON CONFLICT (device_id) DO NOTHING`,
}

var postgresDialect = &dialect{
	postgres:  true,
	jsonArray: `SELECT value FROM json_array_elements_text(CAST(? AS json))`,
	tables: `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
	columns: `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`,
	foreignKeys: `SELECT a.attname::text, p.relname::text
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_class p ON p.oid = c.confrelid
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace AND t.relname = ?`,
	plaintextRuleStates: `SELECT household_id, data FROM rule_state
		WHERE length(data) > 0 AND substr(data, 1, 7) <> '\x656e633a76313a'::bytea`,
	// One conflict target a statement: the meter's id, its key here.
	meterRegisterSaved: `
		ON CONFLICT (device_id) DO UPDATE SET
			field = excluded.field, value = excluded.value, read_at = excluded.read_at
		WHERE meter_registers.household_id = excluded.household_id
			AND (excluded.read_at >= meter_registers.read_at OR excluded.field <> meter_registers.field)`,
}

// inList is "IN (…)" over the strings of its one parameter, which listArg
// makes: one statement, prepared once, for any number of ids.
func (d *dialect) inList() string { return "IN (" + d.jsonArray + ")" }

// listArg is ids as inList's parameter, a JSON array of strings.
func listArg(ids []string) string {
	if len(ids) == 0 {
		return "[]" // not null, which PostgreSQL refuses to take elements of
	}
	b, _ := json.Marshal(ids) // a []string always marshals: invalid UTF-8 is replaced
	return string(b)
}

// IsPostgresURL reports whether url names a PostgreSQL database, the only
// kind of store.url there is besides empty (SQLite).
func IsPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// openPostgres opens the pools of the PostgreSQL database at url: one
// connection that writes, as with SQLite, so that write transactions queue
// in this process instead of conflicting; a pool of read-only connections;
// and one connection of the leader lease's own (lease.go), which must not
// wait behind writes.
func openPostgres(ctx context.Context, url string) (w, r, lease *sql.DB, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message quotes the URL, password included.
		return nil, nil, nil, errors.New("store.url is not a valid PostgreSQL URL")
	}
	open := func(conns int, params map[string]string) (*sql.DB, error) {
		c := cfg.Copy()
		for k, v := range params {
			c.RuntimeParams[k] = v
		}
		db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*c)})
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
		}
		return db, nil
	}
	// A write transaction holds the lease row (lease.go): if its monitor
	// stalls or is cut off mid-transaction, PostgreSQL ends it, instead of
	// keeping a takeover waiting for TCP to notice. Ours never idle that
	// long between statements.
	if w, err = open(1, map[string]string{"idle_in_transaction_session_timeout": "5s"}); err != nil {
		return nil, nil, nil, err
	}
	if r, err = open(8, map[string]string{"default_transaction_read_only": "on"}); err != nil {
		w.Close()
		return nil, nil, nil, err
	}
	// A takeover waits for the leader's write in progress (lease.go), but
	// not for one whose connection hangs: it fails and is tried again.
	if lease, err = open(1, map[string]string{"lock_timeout": "2s"}); err != nil {
		w.Close()
		r.Close()
		return nil, nil, nil, err
	}
	return w, r, lease, nil
}

// rebindConnector hands out pgx connections that take ? placeholders.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is a pgx connection that rewrites ? placeholders; everything
// else (transactions, pings, session resets, argument checks) is pgx's.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// rebound caches rebind's answers: the store has a few hundred statements.
var rebound sync.Map

// rebind numbers the ? placeholders of query as PostgreSQL's $1, $2…,
// leaving alone those in string literals, quoted identifiers and comments.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 { // unterminated: PostgreSQL will say so
				end = len(query) - i - 2
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
			continue
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
			continue
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	q := b.String()
	rebound.Store(query, q)
	return q
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

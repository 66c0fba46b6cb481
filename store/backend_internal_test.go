package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/eldersafe/eldersafe/testkit"
)

// The store suite runs twice: on SQLite, then on the PostgreSQL that
// ./scripts/test.sh starts (ELDERSAFE_TEST_POSTGRES_URL). Tests open their
// database with OpenForTest, which gives each data directory a database of
// its own: a file under it, or a fresh PostgreSQL schema.

// onPostgres is set during the suite's second pass.
var onPostgres bool

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("ELDERSAFE_TEST_POSTGRES_URL") == "" {
		fmt.Println("store suite on PostgreSQL skipped: run ./scripts/test.sh, which starts one and sets ELDERSAFE_TEST_POSTGRES_URL")
		os.Exit(code)
	}
	onPostgres = true
	fmt.Println("=== the store suite again, on PostgreSQL")
	if c := m.Run(); c != 0 {
		code = c
	}
	os.Exit(code)
}

// schemas maps a test's data directory to its PostgreSQL schema's URL, so
// that reopening the directory reopens the same database.
var schemas sync.Map

// OpenForTest opens the database of dir on this pass's backend.
func OpenForTest(tb testing.TB, dir string, opts ...Option) (*DB, error) {
	tb.Helper()
	return Open(context.Background(), dir, nil, append(opts, WithURL(testURL(tb, dir)))...)
}

// testURL is store.url for dir on this pass: empty on SQLite.
func testURL(tb testing.TB, dir string) string {
	tb.Helper()
	if !onPostgres {
		return ""
	}
	if u, ok := schemas.Load(dir); ok {
		return u.(string)
	}
	u := testkit.PostgresURL(tb)
	schemas.Store(dir, u)
	return u
}

// OnPostgres reports whether this pass runs on PostgreSQL.
func OnPostgres() bool { return onPostgres }

// SQLiteOnly skips a test of what only SQLite has (its file, its pragmas).
func SQLiteOnly(tb testing.TB) {
	tb.Helper()
	if onPostgres {
		tb.Skip("SQLite only")
	}
}

// RawContent is every value the database of dir holds, as its disk would
// show it to someone without the key: the SQLite files, or on PostgreSQL
// every row of every table as text (byte strings as text too).
func RawContent(tb testing.TB, dir string) []byte {
	tb.Helper()
	if !onPostgres {
		var all []byte
		matches, err := filepath.Glob(filepath.Join(dir, FileName+"*"))
		if err != nil || len(matches) == 0 {
			tb.Fatalf("database files in %s: %v, %v", dir, matches, err)
		}
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				tb.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", testURL(tb, dir))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	tables, err := strings1(ctx, db, postgresDialect.tables)
	if err != nil {
		tb.Fatal(err)
	}
	var b []byte
	for _, t := range tables {
		rows, err := strings1(ctx, db, `SELECT CAST(t AS text) FROM `+quoteIdent(t)+` t`)
		if err != nil {
			tb.Fatal(err)
		}
		b = append(b, strings.Join(rows, "\n")...)
	}
	// As text, byte strings are hex: the rules' states as they are.
	states, err := db.QueryContext(ctx, `SELECT data FROM rule_state`)
	if err != nil {
		tb.Fatal(err)
	}
	defer states.Close()
	for states.Next() {
		var data []byte
		if err := states.Scan(&data); err != nil {
			tb.Fatal(err)
		}
		b = append(b, data...)
	}
	if err := states.Err(); err != nil {
		tb.Fatal(err)
	}
	return b
}

// RawSQL opens the database of dir directly, past the store, as someone
// editing it by hand would. Statements take ? placeholders on both backends.
func RawSQL(tb testing.TB, dir string) *sql.DB {
	tb.Helper()
	if !onPostgres {
		db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
		if err != nil {
			tb.Fatal(err)
		}
		return db
	}
	cfg, err := pgx.ParseConfig(testURL(tb, dir))
	if err != nil {
		tb.Fatal(err)
	}
	return sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
}

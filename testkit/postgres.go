package testkit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresURL is a PostgreSQL database of the test's own: a fresh schema in
// the server ./scripts/test.sh starts (ELDERSAFE_TEST_POSTGRES_URL), named in
// the URL's search_path and dropped when the test ends. Without the server
// the test is skipped; with it, PostgreSQL must answer.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("ELDERSAFE_TEST_POSTGRES_URL")
	if admin == "" {
		tb.Skip("no PostgreSQL: run ./scripts/test.sh, which starts one and sets ELDERSAFE_TEST_POSTGRES_URL")
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("ELDERSAFE_TEST_POSTGRES_URL: %v", err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("ELDERSAFE_TEST_POSTGRES_URL=%s: %v", admin, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		tb.Fatalf("ELDERSAFE_TEST_POSTGRES_URL=%s: create schema: %v", admin, err)
	}
	tb.Cleanup(func() {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestPragmas checks that every connection of both pools runs with the DSN's settings.
func TestPragmas(t *testing.T) {
	SQLiteOnly(t)
	ctx := context.Background()
	db, err := OpenForTest(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL
	}
	for pool, q := range map[string]querier{"writer": db.w, "reader": db.r} {
		for pragma, v := range want {
			var got string
			if err := q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, pragma, err)
			}
			if !strings.EqualFold(got, v) {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool, pragma, got, v)
			}
		}
	}
	if _, err := db.r.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ('x', 'y', 0)`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

// TestDueForEscalationUsesIndexes: the query escalation runs at every tick
// looks tasks up by (state, deadline), never by scanning the table, and
// each state's part stops at the limit on its own, in its index's order:
// the next deadline is found among a million tasks without reading them.
func TestDueForEscalationUsesIndexes(t *testing.T) {
	SQLiteOnly(t)
	joined := queryPlan(t, dueForEscalationQuery, "open", 0, 100, "verifying", 0, 100, "acknowledged", 0, 100, 100)
	for _, want := range []string{
		"USING INDEX tasks_state_ack_due (state=? AND ack_due_at<?)", "USING INDEX tasks_state_resolve_due (state=? AND resolve_due_at<?)",
		"CO-ROUTINE opened", "CO-ROUTINE verifying", "CO-ROUTINE acknowledged",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("query plan lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "SCAN tasks") {
		t.Errorf("query plan scans tasks:\n%s", joined)
	}
	// One sort: of the parts' few rows. A part sorting its own would read
	// all of them.
	if n := strings.Count(joined, "TEMP B-TREE"); n != 1 {
		t.Errorf("query plan sorts %d times, want once:\n%s", n, joined)
	}
}

// TestDueForEscalationReadsItsLimitOnPostgres: PostgreSQL's parts of the
// same query read no more tasks than the limit either, when thousands share
// the earliest deadline (the month's routine visits do). Its indexes end in
// seq as SQLite's do in the rowid (migration 00081); without it each part
// read and sorted every task of the deadline.
func TestDueForEscalationReadsItsLimitOnPostgres(t *testing.T) {
	if !onPostgres {
		t.Skip("PostgreSQL only: SQLite's indexes end in the rowid, seq (TestDueForEscalationUsesIndexes)")
	}
	ctx := context.Background()
	db := openForTest(t)
	const tied = 2000 // each state's tasks, one deadline for all
	for _, q := range []string{
		`INSERT INTO grids (id, name, created_at) VALUES ('g1', 'Grid', 0)`,
		`INSERT INTO households (id, name, address, grid_id, created_at) VALUES ('h1', 'Li', '1 Road', 'g1', 0)`,
		`INSERT INTO tasks (id, household_id, rule, severity, kind, state, opened_at, ack_due_at, resolve_due_at)
			SELECT 't' || i, 'h1', 'routine_visit', 'low', 'routine_visit', (ARRAY['open', 'verifying', 'acknowledged'])[i % 3 + 1], 0, 1000, 2000
			FROM generate_series(1, 3 * ` + strconv.Itoa(tied) + `) AS i`,
		`ANALYZE tasks`,
	} {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const limit = 1 // as the search for the next deadline asks
	var out []byte
	err := db.r.QueryRowContext(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+dueForEscalationQuery,
		"open", 3000, limit, "verifying", 3000, limit, "acknowledged", 3000, limit, limit).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Type     string  `json:"Node Type"`
		Relation string  `json:"Relation Name"`
		Index    string  `json:"Index Name"`
		Rows     float64 `json:"Actual Rows"`
		Plans    []node  `json:"Plans"`
	}
	var plan []struct{ Plan node }
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("plan %s: %v", out, err)
	}
	scans := 0
	var walk func(n node)
	walk = func(n node) {
		if n.Relation == "tasks" {
			scans++
			if n.Rows > limit {
				t.Errorf("%s of tasks (%s) read %v rows, want at most %d: plan %s", n.Type, n.Index, n.Rows, limit, out)
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plan[0].Plan)
	if scans != 3 {
		t.Errorf("%d reads of tasks, want one for each state: plan %s", scans, out)
	}
}

// TestRuleFieldsUseTheirIndex: a start reads the households set apart from
// the defaults from their partial index alone, not by scanning a million
// rows nor by looking up each one's.
func TestRuleFieldsUseTheirIndex(t *testing.T) {
	SQLiteOnly(t)
	plan := queryPlan(t, setApartQuery, "Asia/Shanghai")
	if !strings.Contains(plan, "USING COVERING INDEX households_rule_fields") {
		t.Errorf("query plan %q, want the partial index households_rule_fields, covering", plan)
	}
}

// TestPlaintextQueriesUseTheirIndexes: a start looks for sensitive values
// still in plaintext through partial indexes, not by scanning every
// household, notice, evidence and timeline entry; and the prefix the
// queries spell out is the one values are sealed with.
func TestPlaintextQueriesUseTheirIndexes(t *testing.T) {
	SQLiteOnly(t)
	if len(fieldPrefix) != 7 {
		t.Fatalf("fieldPrefix %q: the queries and migrations 00073 to 00075 compare 7 bytes", fieldPrefix)
	}
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		if !strings.Contains(d.plaintextRuleStates, hex.EncodeToString([]byte(fieldPrefix))) && !strings.Contains(d.plaintextRuleStates, strings.ToUpper(hex.EncodeToString([]byte(fieldPrefix)))) {
			t.Errorf("the plaintext rule states query does not spell fieldPrefix %q in hex: %s", fieldPrefix, d.plaintextRuleStates)
		}
	}
	for query, index := range map[string]string{
		plaintextHouseholdsQuery: "households_plaintext", plaintextNoticesQuery: "notices_plaintext",
		`SELECT seq, values_json FROM task_evidence WHERE ` + plaintextDocsWhere("values_json"): "task_evidence_plaintext",
		`SELECT seq, data_json FROM task_timeline WHERE ` + plaintextDocsWhere("data_json"):     "task_timeline_plaintext",
		sqliteDialect.plaintextRuleStates: "rule_state_plaintext",
	} {
		if plan := queryPlan(t, query); !strings.Contains(plan, "USING INDEX "+index) {
			t.Errorf("query plan %q, want the partial index %s", plan, index)
		}
	}
}

// queryPlan is SQLite's plan for query on a fresh database, a line a step.
func queryPlan(t *testing.T, query string, args ...any) string {
	t.Helper()
	db, err := OpenForTest(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestPreparedTx: a transaction's statements, prepared once and run many
// times, give what they give unprepared, and one that does not prepare
// gives its error where it runs.
func TestPreparedTx(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	tx, done, err := db.begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	defer tx.Rollback()
	p := db.prepared(tx)
	for i := range 3 {
		if _, err := p.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, 0)`, strings.Repeat("n", i+1), "v"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		var v string
		if err := p.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, strings.Repeat("n", i+1)).Scan(&v); err != nil || v != "v" {
			t.Fatalf("setting %d: %q, %v", i, v, err)
		}
	}
	rows, err := p.QueryContext(ctx, `SELECT count(*) FROM settings WHERE value = ?`, "v")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Close(); err != nil || n != 3 {
		t.Errorf("%d settings, %v; want 3", n, err)
	}
	if _, err := p.ExecContext(ctx, `INSERT INTO no_such_table VALUES (1)`); err == nil {
		t.Error("a statement on a missing table ran")
	}
	var one int
	if err := p.QueryRowContext(ctx, `SELECT one FROM no_such_table`).Scan(&one); err == nil {
		t.Error("a query of a missing table answered")
	}
}

package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

var auditKey = []byte("0123456789abcdef0123456789abcdef")

// auditLog makes a store with n audit entries and a second, raw handle on
// its file, as someone editing the database by hand would have.
func auditLog(t *testing.T, n int) (*store.DB, *sql.DB) {
	t.Helper()
	dir := t.TempDir()
	db := openDB(t, dir)
	ctx := context.Background()
	for i := range n {
		_, err := db.AppendAudit(ctx, auditKey, audit.Entry{
			At: t0.Add(time.Duration(i) * time.Minute), Actor: "w-1", Role: "grid_worker", Action: audit.Read,
			Object: fmt.Sprintf("households/h%d", i+1), Remote: "10.0.0.7", Reason: "GET /api/v1/households/{id}",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	raw := store.RawSQL(t, dir)
	t.Cleanup(func() { raw.Close() })
	return db, raw
}

func TestAuditChainIntact(t *testing.T) {
	db, _ := auditLog(t, 5)
	n, err := db.VerifyAudit(context.Background(), auditKey)
	if err != nil || n != 5 {
		t.Fatalf("verify: %d entries, %v", n, err)
	}
	entries, err := db.Audit(context.Background(), "", "households/h3", 0)
	if err != nil || len(entries) != 1 || entries[0].Seq != 3 || entries[0].Actor != "w-1" || !entries[0].At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("entries = %+v, %v", entries, err)
	}
	if n, err := newDB(t).VerifyAudit(context.Background(), auditKey); err != nil || n != 0 {
		t.Errorf("an empty log: %d, %v", n, err)
	}
}

func TestAuditTamperingIsNamed(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		seq  int64
		how  string
	}{
		{"altered", `UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3`, 3, "altered"},
		{"altered actor", `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1`, 1, "altered"},
		{"removed from the middle", `DELETE FROM audit_log WHERE seq = 2`, 2, "removed"},
		{"removed from the end", `DELETE FROM audit_log WHERE seq = 5`, 5, "removed"},
		{"removed from the end, head moved too", `DELETE FROM audit_log WHERE seq = 5; UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)`, 5, "removed"},
		{"everything removed", `DELETE FROM audit_log; DELETE FROM audit_head; INSERT INTO grids (id, name, created_at) VALUES ('g1', 'G', 0); INSERT INTO households (id, name, address, grid_id, created_at) VALUES ('h1', 'H', 'A', 'g1', 0)`, 1, "removed"},
		{"inserted at the end", `INSERT INTO audit_log (seq, at, actor, action, object, prev_hash, hash) SELECT 6, at, 'w-9', 'read', 'household/h1', hash, 'forged' FROM audit_log WHERE seq = 5`, 6, "inserted"},
		{"inserted in the middle", `UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 9 WHERE seq >= 13; INSERT INTO audit_log (seq, at, actor, action, object, prev_hash, hash) SELECT 3, at, 'w-9', 'read', 'household/h1', hash, 'forged' FROM audit_log WHERE seq = 2; UPDATE audit_head SET seq = 6`, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, raw := auditLog(t, 5)
			tamper(t, raw, tt.sql)
			_, err := db.VerifyAudit(context.Background(), auditKey)
			var broken *audit.BrokenError
			if !errors.As(err, &broken) {
				t.Fatalf("verify: %v, want a broken chain", err)
			}
			if tt.how == "" {
				// A consistent forgery of the head: the chain itself still
				// names where the content stops matching.
				if broken.Seq > tt.seq+1 {
					t.Errorf("broken at %d (%s), want at or before %d", broken.Seq, broken.Reason, tt.seq+1)
				}
				return
			}
			if broken.Seq != tt.seq || !strings.Contains(broken.Reason, tt.how) {
				t.Errorf("broken at %d (%s), want %d %s", broken.Seq, broken.Reason, tt.seq, tt.how)
			}
		})
	}
}

// tamper runs the statements of script on the raw handle.
func tamper(t *testing.T, raw *sql.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("tamper: %s: %v", stmt, err)
		}
	}
}

// A wrong key makes every entry fail from the first: verify says the key
// does not match instead of naming entry 1 as altered. With the right key a
// break is still named, even in a log of one entry.
func TestAuditWrongKeyIsNamed(t *testing.T) {
	tests := []struct {
		name     string
		entries  int
		sql      string
		key      []byte
		wrongKey bool // else broken at entry 1
	}{
		{"another key", 5, ``, []byte("another key"), true},
		{"another key on a tampered log", 5, `UPDATE audit_log SET reason = 'x' WHERE seq = 3`, []byte("another key"), true},
		{"another key on one entry", 1, ``, []byte("another key"), true},
		{"the right key, the only entry altered", 1, `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1`, auditKey, false},
		{"the right key, the first entry altered", 5, `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1`, auditKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, raw := auditLog(t, tt.entries)
			tamper(t, raw, tt.sql)
			_, err := db.VerifyAudit(context.Background(), tt.key)
			var broken *audit.BrokenError
			switch {
			case tt.wrongKey && !errors.Is(err, audit.ErrKeyMismatch):
				t.Errorf("verify: %v, want %v", err, audit.ErrKeyMismatch)
			case !tt.wrongKey && (!errors.As(err, &broken) || broken.Seq != 1 || !strings.Contains(broken.Reason, "altered")):
				t.Errorf("verify: %v, want entry 1 altered", err)
			}
		})
	}
}

func TestHouseholdAudit(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h10", Name: "x", Address: "y", GridID: "g1"}))
	insertTask(t, db, newTask("t1", "h1", rules.RuleFall, t0))
	insertTask(t, db, newTask("t10", "h10", rules.RuleFall, t0))
	objects := []string{
		"households/h1",                    // 1: the household
		"households/h10",                   // 2: another whose id starts alike
		"households/h1/export",             // 3: under it
		"tasks/t1/ack",                     // 4: its task
		"tasks/t10/ack",                    // 5: another's task
		"tasks?household_id=h1&state=open", // 6: a listing filtered on it
		"tasks?household_id=h10",           // 7: on another
		"tasks?state=open&household_id=h1", // 8: on it, second parameter
		"tasks?rule=household_id%3Dh1",     // 9: the words, not the parameter
		"households?q=household_id_h1",     // 10: LIKE's wildcard must not match
	}
	for i, o := range objects {
		if _, err := db.AppendAudit(ctx, auditKey, audit.Entry{At: t0.Add(time.Duration(i) * time.Second), Actor: "op", Role: "operator", Action: audit.Read, Object: o}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := db.HouseholdAudit(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range entries {
		got = append(got, e.Seq)
	}
	if want := []int64{1, 3, 4, 6, 8}; !slices.Equal(got, want) {
		t.Errorf("entries about h1 = %v, want %v", got, want)
	}
}

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/store"
)

// TestLease: one holder at a time; a takeover moves the epoch on, and the
// fence then refuses the old holder's writes and lets the new one's pass.
func TestLease(t *testing.T) {
	ctx := context.Background()
	if !store.OnPostgres() {
		if _, _, err := newDB(t).AcquireLease(ctx, "a", time.Hour); !errors.Is(err, store.ErrNoLease) {
			t.Errorf("AcquireLease on SQLite: %v, want ErrNoLease", err)
		}
		return
	}
	dir := t.TempDir()
	a, b := openDB(t, dir), openDB(t, dir) // two monitors on one database
	acquire := func(db *store.DB, holder string, wantOK bool, wantEpoch int64) {
		t.Helper()
		epoch, ok, err := db.AcquireLease(ctx, holder, time.Hour)
		if err != nil || ok != wantOK || epoch != wantEpoch {
			t.Fatalf("AcquireLease(%s) = %d, %v, %v; want %d, %v", holder, epoch, ok, err, wantEpoch, wantOK)
		}
	}
	acquire(a, "a", true, 1)
	acquire(b, "b", false, 0) // held, not expired
	acquire(a, "a", true, 1)  // renewed: same epoch

	a.Fence("a", 1)
	must(t, a.SetSetting(ctx, "k", "from a"))
	b.Fence("b", 0) // a standby: no lease has epoch 0
	if err := b.SetSetting(ctx, "k", "from b"); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("standby's write: %v, want ErrNotLeader", err)
	}

	must(t, a.ReleaseLease(ctx, "a"))
	acquire(b, "b", true, 2)
	acquire(a, "a", false, 0) // a cannot renew what b took
	if err := a.SetSetting(ctx, "k", "stale a"); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("old leader's write after the takeover: %v, want ErrNotLeader", err)
	}
	b.Fence("b", 2)
	must(t, b.SetSetting(ctx, "k", "from b"))
	if v, _, err := a.Setting(ctx, "k"); err != nil || v != "from b" {
		t.Errorf("setting = %q, %v; want the new leader's", v, err)
	}
	must(t, a.ReleaseLease(ctx, "a")) // not a's: b keeps it
	acquire(b, "b", true, 2)
}

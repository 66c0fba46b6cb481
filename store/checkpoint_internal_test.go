package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// TestCheckpointsBesideTheWriter: what the writer commits reaches the
// database file without the writer checkpointing (its own threshold is
// walBackstopPages, far above what is written here), and Close stops the
// background.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	db, dir := openInDir(t)
	var pages int
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != walBackstopPages {
		t.Errorf("the writer checkpoints at %d pages, want %d", pages, walBackstopPages)
	}

	file := filepath.Join(dir, FileName)
	before := fileSize(t, file)
	// About 400 pages of states.
	if err := db.SaveCheckpoint(ctx, randomStates(800), time.Time{}); err != nil {
		t.Fatal(err)
	}
	const grown = 1500 << 10
	waitFor(t, "the WAL to be copied into the database file", func() bool { return fileSize(t, file) >= before+grown })

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-db.checkpoints.done:
	default:
		t.Error("the checkpoints still run after Close")
	}
}

// TestTheWALStartsAgainBesideTheWriter: beside a writer that commits
// without a pause, a checkpoint never copies the WAL to its end, and only
// then does the WAL start again from its beginning. Once it holds
// restartFrames, the checkpointer's last pass, on the writer's connection
// between two commits, lets it. The WAL's header counts the restarts (its
// checkpoint sequence number).
func TestTheWALStartsAgainBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	db, dir := openInDir(t)
	// Only the checkpointer may restart the WAL.
	if _, err := db.w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	c := db.checkpoints
	const restartFrames = 64
	c.mu.Lock()
	c.restartFrames = restartFrames
	c.mu.Unlock()

	states := randomStates(8)
	var commits atomic.Int64
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.SaveCheckpoint(ctx, states, time.Time{}); err != nil {
				t.Error(err)
				return
			}
			commits.Add(1)
		}
	})
	defer func() { close(stop); writer.Wait() }()

	wal := filepath.Join(dir, FileName+"-wal")
	waitFor(t, "the WAL to hold its frames", func() bool {
		return fileSize(t, wal) >= walHeader+restartFrames*(walFrameHeader+4096)
	})
	before := walSequence(t, wal)
	if err := c.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	after := commits.Load() + 2
	waitFor(t, "two more commits", func() bool { return commits.Load() >= after })
	if got := walSequence(t, wal); got == before {
		t.Errorf("the WAL did not start again: checkpoint sequence %d before and after", got)
	}
}

// The WAL file's layout (https://www.sqlite.org/fileformat.html#walformat).
const (
	walHeader      = 32
	walFrameHeader = 24
)

// walSequence reads the checkpoint sequence number in a WAL's header, which
// SQLite increments each time the WAL starts again.
func walSequence(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [walHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(h[12:16])
}

func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// openInDir opens a fresh SQLite store for t, closed when t ends, in a
// directory of its own, which it returns too.
func openInDir(t *testing.T) (*DB, string) {
	t.Helper()
	SQLiteOnly(t)
	dir := t.TempDir()
	db, err := OpenForTest(t, dir)
	mustDo(t, err)
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// randomStates are n households' states of 2,000 random bytes, half a page
// each, which nothing shrinks.
func randomStates(n int) []rules.State {
	states := make([]rules.State, n)
	for i := range states {
		states[i] = rules.State{HouseholdID: fmt.Sprintf("h%d", i), Data: make([]byte, 2000)}
		_, _ = rand.Read(states[i].Data)
	}
	return states
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkSaveCheckpointScattered: a commit of what 2,000 messages changed,
// each of another household, among 200,000 saved 730-byte states, as at
// flat-out speed. "before": the writer checkpointing at SQLite's default
// 1,000 pages, as before checkpoint.go; "beside": the background.
func BenchmarkSaveCheckpointScattered(b *testing.B) {
	SQLiteOnly(b)
	const households, batch = 200_000, 2_000
	for _, mode := range []string{"before", "beside"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db, err := OpenForTest(b, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if mode == "before" {
				err := db.checkpoints.close()
				db.checkpoints = nil
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 1000`); err != nil {
					b.Fatal(err)
				}
			}
			states := make([]rules.State, batch)
			data := make([]byte, 730)
			_, _ = rand.Read(data)
			for from := 0; from < households; from += batch {
				for i := range states {
					states[i] = rules.State{HouseholdID: fmt.Sprintf("h%07d", from+i), Data: data}
				}
				if err := db.SaveCheckpoint(ctx, states, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				for i := range states {
					states[i] = rules.State{HouseholdID: fmt.Sprintf("h%07d", mrand.IntN(households)), Data: data}
				}
				if err := db.SaveCheckpoint(ctx, states, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/state")
		})
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// waiting is how many wait in q, urgent and not.
func (q *writeQueue) waiting() (urgent, normal int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.urgent), len(q.normal)
}

// TestWriteQueue: while a transaction writes, an alarm's write queued
// after others goes first; the others keep their order; a waiter that gives
// up leaves the line.
func TestWriteQueue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		arrive  []string // in this order; "!" before a name: urgent
		giveUp  string   // gives up before its turn
		wantRun []string
	}{
		{name: "an alarm first", arrive: []string{"rollup", "states", "!fall"}, wantRun: []string{"fall", "rollup", "states"}},
		{name: "alarms in their order", arrive: []string{"rollup", "!fall", "!sos", "audit"}, wantRun: []string{"fall", "sos", "rollup", "audit"}},
		{name: "one gives up", arrive: []string{"rollup", "states", "!fall"}, giveUp: "states", wantRun: []string{"fall", "rollup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q writeQueue
			ctx := context.Background()
			if err := q.enter(ctx, false); err != nil {
				t.Fatal(err)
			}
			ran := make(chan string, len(tc.arrive))
			gaveUp := make(chan error, 1)
			urgent, normal := 0, 0
			for _, a := range tc.arrive {
				name, isUrgent := a, a[0] == '!'
				if isUrgent {
					name, urgent = a[1:], urgent+1
				} else {
					normal++
				}
				ctx, cancel := context.WithCancel(ctx)
				t.Cleanup(cancel)
				go func() {
					err := q.enter(ctx, isUrgent)
					if name == tc.giveUp {
						gaveUp <- err
						return
					}
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					ran <- name
					q.leave()
				}()
				// One in line before the next arrives, so their order is known.
				waitFor(t, name+" in line", func() bool { u, n := q.waiting(); return u == urgent && n == normal })
				if name == tc.giveUp {
					cancel()
					if err := <-gaveUp; !errors.Is(err, context.Canceled) {
						t.Fatalf("%s gave up with %v, want context.Canceled", name, err)
					}
					normal--
				}
			}
			q.leave()
			var got []string
			for range tc.wantRun {
				select {
				case name := <-ran:
					got = append(got, name)
				case <-time.After(10 * time.Second):
					t.Fatalf("ran %v, then nothing; want %v", got, tc.wantRun)
				}
			}
			if !slices.Equal(got, tc.wantRun) {
				t.Fatalf("ran %v, want %v", got, tc.wantRun)
			}
			// The last one out leaves the writer free.
			waitFor(t, "the writer free", func() bool { q.mu.Lock(); defer q.mu.Unlock(); return !q.busy })
		})
	}
}

// TestAnAlarmsTransactionGoesFirst: while a transaction writes, a fall's
// (tasks.Urgent) queued after the rules' commit is written before it.
func TestAnAlarmsTransactionGoesFirst(t *testing.T) {
	SQLiteOnly(t) // PostgreSQL takes writers side by side: no queue
	ctx := context.Background()
	db := openForTest(t)
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	write := func(ctx context.Context, name string, hold <-chan struct{}) {
		err := db.write(ctx, func(*sql.Tx) error {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			<-hold
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	hold, free := make(chan struct{}), make(chan struct{})
	close(free)
	wg.Go(func() { write(ctx, "roll-up", hold) })
	waitFor(t, "the roll-up writing", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	wg.Go(func() { write(ctx, "states", free) })
	waitFor(t, "the states in line", func() bool { _, n := db.writes.waiting(); return n == 1 })
	wg.Go(func() { write(tasks.Urgent(ctx), "fall", free) })
	waitFor(t, "the fall in line", func() bool { u, _ := db.writes.waiting(); return u == 1 })
	close(hold)
	wg.Wait()
	if want := []string{"roll-up", "fall", "states"}; !slices.Equal(order, want) {
		t.Errorf("written in the order %v, want %v", order, want)
	}
}

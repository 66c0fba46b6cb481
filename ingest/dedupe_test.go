package ingest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// at is the ts of a device's n-th message in these tests: one a minute.
func at(n int) time.Time { return ts0.Add(time.Duration(n) * time.Minute) }

// step is one message offered to Dedup and whether it must count as a duplicate.
type step struct {
	seq uint64
	ts  time.Time
	dup bool
}

func TestDedup_Seen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"Repeat", []step{{1, at(1), false}, {1, at(1), true}, {1, at(1), true}}},
		{"Increasing", []step{{1, at(1), false}, {2, at(2), false}, {3, at(3), false}, {2, at(2), true}}},
		{"FirstSeqIsAnyValue", []step{{1 << 40, at(1), false}, {1<<40 + 1, at(2), false}, {1 << 40, at(1), true}}},
		{"Gap", []step{{1, at(1), false}, {5, at(5), false}, {1, at(1), true}, {5, at(5), true}}},
		{"OutOfOrderWithinWindow", []step{
			{10, at(10), false}, {5, at(5), false}, {7, at(7), false}, {5, at(5), true}, {7, at(7), true}, {6, at(6), false},
		}},
		{"LastSlotOfWindow", []step{{100, at(100), false}, {36, at(36), false}, {36, at(36), true}}},
		{"BelowWindowWithOldTS", []step{{100, at(100), false}, {35, at(35), true}}},
		{"TopMovesIntoWindow", []step{{0, at(0), false}, {64, at(64), false}, {0, at(0), true}, {1, at(1), false}}},
		{"JumpClearsWindow", []step{{0, at(0), false}, {1, at(1), false}, {200, at(200), false}, {136, at(136), false}, {135, at(135), true}}},
		{"MaxSeq", []step{{1<<64 - 2, at(1), false}, {1<<64 - 1, at(2), false}, {1<<64 - 2, at(1), true}, {1<<64 - 1, at(2), true}}},
		{"RebootFarBelow", []step{
			{1000, at(1000), false}, {999, at(999), false},
			{0, at(2000), false}, {0, at(2000), true}, {1, at(2001), false},
			// The window before the reboot is gone, so a late copy from then
			// passes once.
			{999, at(999), false}, {999, at(999), true},
		}},
		{"RebootWithinWindow", []step{
			{0, at(0), false}, {1, at(1), false}, {2, at(2), false},
			{0, at(10), false}, {1, at(11), false}, {2, at(12), false}, {2, at(12), true},
		}},
		{"RebootAtTop", []step{{0, at(0), false}, {0, at(5), false}, {0, at(5), true}}},
		{"SameMillisecondIsDuplicate", []step{{3, at(3), false}, {3, at(3).Add(500 * time.Microsecond), true}}},
		{"UnseenSeqWithNewerTSKeepsWindow", []step{
			{10, at(10), false}, {8, at(20), false}, {10, at(10), true}, {8, at(20), true}, {9, at(9), false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Dedup
			for i, s := range tc.steps {
				if got := seen(&d, "dev-1", s.seq, s.ts); got != s.dup {
					t.Fatalf("step %d: seen(seq %d, %s) = %t, want %t", i, s.seq, s.ts.Format(time.TimeOnly), got, s.dup)
				}
			}
		})
	}
}

func TestDedup_DevicesAreIndependent(t *testing.T) {
	var d Dedup
	if seen(&d, "a", 1, at(1)) || seen(&d, "b", 1, at(1)) {
		t.Fatal("first seq of a device reported as duplicate")
	}
	if !seen(&d, "a", 1, at(1)) || !seen(&d, "b", 1, at(1)) {
		t.Fatal("repeat not reported as duplicate")
	}
}

// TestDedup_Concurrent has one goroutine per device, as ingest partitions
// messages by device, each delivering every seq several times over, while the
// devices race one another on the shared map: exactly one delivery of each seq
// must be accepted. Run with -race.
func TestDedup_Concurrent(t *testing.T) {
	const devices, seqs, copies = 20, 500, 4
	var d Dedup
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for dev := range devices {
		id := fmt.Sprintf("dev-%d", dev)
		wg.Go(func() {
			for seq := range seqs {
				for range copies {
					if !seen(&d, id, uint64(seq), at(seq)) {
						accepted.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if got, want := accepted.Load(), int64(devices*seqs); got != want {
		t.Errorf("accepted %d messages, want %d", got, want)
	}
}

func BenchmarkDedup_Seen(b *testing.B) {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%04d", i)
	}
	var d Dedup
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		seen(&d, ids[n%len(ids)], uint64(n/len(ids)), at(n/len(ids)))
		n++
	}
}

// seen checks and records, as the pipeline does around handling a message.
func seen(d *Dedup, deviceID string, seq uint64, ts time.Time) bool {
	if d.Duplicate(deviceID, seq, ts) {
		return true
	}
	d.Record(deviceID, seq, ts)
	return false
}

func TestDedup_DuplicateRecordsNothing(t *testing.T) {
	var d Dedup
	if d.Duplicate("a", 1, at(1)) || d.Duplicate("a", 1, at(1)) {
		t.Fatal("an unrecorded seq counts as a duplicate: a failed message would be lost on redelivery")
	}
	d.Record("a", 1, at(1))
	if !d.Duplicate("a", 1, at(1)) {
		t.Fatal("a recorded seq is not a duplicate")
	}
}

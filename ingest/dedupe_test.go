package ingest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
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
		// Never seen: a late message is not a copy, whatever its seq (a fall
		// is never dropped for being old).
		{"UnseenOldSeqAccepted", []step{{100, at(100), false}, {35, at(35), false}, {35, at(35), true}}},
		{"TopMovesIntoWindow", []step{{0, at(0), false}, {64, at(64), false}, {0, at(0), true}, {1, at(1), false}}},
		{"Jump", []step{{0, at(0), false}, {1, at(1), false}, {200, at(200), false}, {136, at(136), false}, {135, at(135), false}, {1, at(1), true}}},
		{"MaxSeq", []step{{1<<64 - 2, at(1), false}, {1<<64 - 1, at(2), false}, {1<<64 - 2, at(1), true}, {1<<64 - 1, at(2), true}}},
		{"RebootFarBelow", []step{
			{1000, at(1000), false}, {999, at(999), false},
			{0, at(2000), false}, {0, at(2000), true}, {1, at(2001), false},
			// A late copy from before the reboot is still a copy.
			{999, at(999), true},
		}},
		{"RebootWithinWindow", []step{
			{0, at(0), false}, {1, at(1), false}, {2, at(2), false},
			{0, at(10), false}, {1, at(11), false}, {2, at(12), false}, {2, at(12), true},
		}},
		{"RebootAtTop", []step{{0, at(0), false}, {0, at(5), false}, {0, at(5), true}}},
		{"SameMillisecondIsDuplicate", []step{{3, at(3), false}, {3, at(3).Add(500 * time.Microsecond), true}}},
		// A wristband's clock ran 6 days fast, then it rebooted: its fall with
		// seq 1 is not a copy of anything (it was dropped for 7 days before).
		{"FutureTSThenReboot", []step{
			{1000, ts0.Add(6 * 24 * time.Hour), false}, {1, at(1), false}, {1000, ts0.Add(6 * 24 * time.Hour), true},
		}},
		// Only the last recent messages are remembered: an older copy is
		// accepted again, which the rules take without harm.
		{"CopyOlderThanRecent", append(func() []step {
			var steps []step
			for n := range recent + 1 {
				steps = append(steps, step{uint64(n), at(n), false})
			}
			return steps
		}(), step{0, at(0), false}, step{recent, at(recent), true})},
		{"UnseenSeqWithNewerTSKeepsWindow", []step{
			{10, at(10), false}, {8, at(20), false}, {10, at(10), true}, {8, at(20), true}, {9, at(9), false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Dedup
			for i, s := range tc.steps {
				if got := check(&d, "dev-1", s.seq, s.ts); got != s.dup {
					t.Fatalf("step %d: check(seq %d, %s) = %t, want %t", i, s.seq, s.ts.Format(time.TimeOnly), got, s.dup)
				}
			}
		})
	}
}

func TestDedup_DevicesAreIndependent(t *testing.T) {
	var d Dedup
	if check(&d, "a", 1, at(1)) || check(&d, "b", 1, at(1)) {
		t.Fatal("first seq of a device reported as duplicate")
	}
	if !check(&d, "a", 1, at(1)) || !check(&d, "b", 1, at(1)) {
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
					if !check(&d, id, uint64(seq), at(seq)) {
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
		check(&d, ids[n%len(ids)], uint64(n/len(ids)), at(n/len(ids)))
		n++
	}
}

// check checks and records a reading stamped ts, as the pipeline does
// around handling a message.
func check(d *Dedup, deviceID string, seq uint64, ts time.Time) bool {
	return checkReading(d, deviceID, seq, rules.Reading{TS: ts})
}

func checkReading(d *Dedup, deviceID string, seq uint64, r rules.Reading) bool {
	if d.Duplicate(deviceID, seq, r) {
		return true
	}
	d.Record(deviceID, seq, r)
	return false
}

func TestDedup_DuplicateRecordsNothing(t *testing.T) {
	var d Dedup
	r := rules.Reading{TS: at(1)}
	if d.Duplicate("a", 1, r) || d.Duplicate("a", 1, r) {
		t.Fatal("an unrecorded seq counts as a duplicate: a failed message would be lost on redelivery")
	}
	d.Record("a", 1, r)
	if !d.Duplicate("a", 1, r) {
		t.Fatal("a recorded seq is not a duplicate")
	}
}

// A fall or an SOS is remembered until recent newer alarms, whatever else
// the wristband sends: its copy after the task it opened was resolved would
// open another. Other messages are remembered as before, one fewer for
// each alarm kept.
func TestDedup_AlarmsRememberedLonger(t *testing.T) {
	event := func(n int, ev string) rules.Reading {
		return rules.Reading{TS: at(n), Stream: rules.Event, Event: ev}
	}
	heartbeat := func(n int) rules.Reading { return rules.Reading{TS: at(n), Stream: rules.Telemetry} }
	type msg struct {
		seq uint64
		r   rules.Reading
		dup bool
	}
	var afterFall []msg
	for n := 2; n < 2+3*recent; n++ {
		afterFall = append(afterFall, msg{uint64(n), heartbeat(n), false})
	}
	for _, tc := range []struct {
		name string
		msgs []msg
	}{
		{"FallOutlivesHeartbeats", append(append([]msg{{1, event(1, rules.EventFall), false}}, afterFall...),
			msg{1, event(1, rules.EventFall), true},
			msg{2 + 3*recent - 1, heartbeat(2 + 3*recent - 1), true}, // the newest heartbeat
			msg{2, heartbeat(2), false})},                            // an old one: forgotten
		{"SOSOutlivesHeartbeats", append(append([]msg{{1, event(1, rules.EventSOS), false}}, afterFall...),
			msg{1, event(1, rules.EventSOS), true})},
		{"AnOKIsNoAlarm", append(append([]msg{{1, event(1, rules.EventOK), false}}, afterFall...),
			msg{1, event(1, rules.EventOK), false})},
		// With only alarms remembered, the oldest goes.
		{"NewerAlarmsPushOut", func() []msg {
			var ms []msg
			for n := range recent + 1 {
				ms = append(ms, msg{uint64(n), event(n, rules.EventFall), false})
			}
			return append(ms, msg{recent, event(recent, rules.EventFall), true}, msg{1, event(1, rules.EventFall), true},
				msg{0, event(0, rules.EventFall), false})
		}()},
		// A seq and ts once a heartbeat's, then a fall's (a device that
		// restarted its counter within the same millisecond): not a copy.
		{"SameSeqAndTSOtherKind", []msg{{1, heartbeat(1), false}, {1, event(1, rules.EventFall), false}, {1, event(1, rules.EventFall), true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Dedup
			for i, m := range tc.msgs {
				if got := checkReading(&d, "wb-1", m.seq, m.r); got != m.dup {
					t.Fatalf("message %d (seq %d, %q): duplicate %t, want %t", i, m.seq, m.r.Event, got, m.dup)
				}
			}
		})
	}
}

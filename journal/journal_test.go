package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/shred"
	"github.com/eldersafe/eldersafe/testkit"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

// openJournal opens the journal in dir, to be closed at the end of the test
// if the test did not close it.
func openJournal(t testing.TB, dir string, key []byte, after uint64) *Journal {
	t.Helper()
	j, err := Open(dir, key, after)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// replayAll is every record Replay hands over.
func replayAll(t *testing.T, j *Journal) ([]record, Stats) {
	t.Helper()
	return replayAfter(t, j, 0)
}

// replayAfter is every record above after that Replay hands over.
func replayAfter(t *testing.T, j *Journal, after uint64) ([]record, Stats) {
	t.Helper()
	var got []record
	st, err := j.Replay(after, func(seq uint64, r rules.Reading) error {
		got = append(got, record{seq, r})
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return got, st
}

func seqs(records []record) []uint64 {
	var s []uint64
	for _, rec := range records {
		s = append(s, rec.seq)
	}
	return s
}

// seqRange is from to to, both included.
func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for seq := from; seq <= to; seq++ {
		s = append(s, seq)
	}
	return s
}

// appendN appends n readings of device and returns the seq of the last.
func appendN(j *Journal, n int, device string) uint64 {
	var seq uint64
	for range n {
		seq = j.Append(rules.Reading{DeviceID: device, Stream: rules.Telemetry, BatteryPct: ptr(50.0)})
	}
	return seq
}

func flush(t *testing.T, j *Journal) {
	t.Helper()
	if err := j.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func closeJournal(t *testing.T, j *Journal) {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// segmentFirsts is the first seq of each segment file in dir.
func segmentFirsts(t *testing.T, dir string) []uint64 {
	t.Helper()
	segments, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var firsts []uint64
	for _, seg := range segments {
		firsts = append(firsts, seg.first)
	}
	return firsts
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openJournal(t, dir, testKey, 0)
	var want []record
	for i, tc := range testReadings {
		want = append(want, record{j.Append(tc.reading), tc.reading})
		if i == len(testReadings)/2 {
			flush(t, j) // two blocks
		}
	}
	flush(t, j)
	if got, want := j.Written(), uint64(len(testReadings)); got != want {
		t.Fatalf("Written() = %d, want %d", got, want)
	}
	got, st := replayAll(t, j)
	if !slices.Equal(seqs(got), seqRange(1, uint64(len(testReadings)))) {
		t.Fatalf("replayed seqs %v, want 1 to %d", seqs(got), len(testReadings))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].reading, want[i].reading) {
			t.Errorf("%s: replayed\n%+v\nwant\n%+v", testReadings[i].name, got[i].reading, want[i].reading)
		}
	}
	if want := (Stats{Segments: 1, Records: len(testReadings)}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}

	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, segmentPath(dir, 1): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, want)
		}
	}
	// Nothing of the readings is in the clear.
	raw := readFile(t, segmentPath(dir, 1))
	if bytes.Contains(raw, []byte("kitchen")) || bytes.Contains(raw, []byte("hh-1")) {
		t.Fatal("a reading's strings are in the segment in the clear")
	}
}

func TestReopen(t *testing.T) {
	tests := []struct {
		name string
		// earlier is how many records the earlier run appended; crash: it
		// flushed them and was never closed.
		earlier   int
		crash     bool
		after     uint64
		wantFirst uint64
	}{
		{"closed", 3, false, 0, 4},
		{"killed after a flush", 3, true, 0, 4},
		{"after above the records", 3, false, 10, 11},
		{"after below the records", 3, false, 2, 4},
		{"first ever", 0, false, 0, 1},
		// Its empty segment is named 1: the next must be named above it.
		{"earlier run appended nothing", -1, false, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.earlier != 0 {
				j := openJournal(t, dir, testKey, 0)
				appendN(j, max(tc.earlier, 0), "earlier")
				flush(t, j)
				if !tc.crash {
					closeJournal(t, j)
				}
			}
			j := openJournal(t, dir, testKey, tc.after)
			// Below the first to come, every record is written: a snapshot
			// of a run that appends nothing holds them all.
			if got := j.Written(); got != tc.wantFirst-1 {
				t.Fatalf("Written() = %d at open, want %d", got, tc.wantFirst-1)
			}
			if got := j.Append(rules.Reading{DeviceID: "later"}); got != tc.wantFirst {
				t.Fatalf("first seq %d, want %d", got, tc.wantFirst)
			}
			flush(t, j)
			got, _ := replayAll(t, j)
			want := append(seqRange(1, uint64(max(tc.earlier, 0))), tc.wantFirst)
			if !slices.Equal(seqs(got), want) {
				t.Fatalf("replayed %v, want %v", seqs(got), want)
			}
			if last := got[len(got)-1].reading.DeviceID; last != "later" {
				t.Fatalf("last record of %q, want the new one", last)
			}
		})
	}
}

func TestRotateRelease(t *testing.T) {
	tests := []struct {
		below        uint64
		wantSegments []uint64
	}{
		{0, []uint64{1, 4, 7}},
		{4, []uint64{4, 7}},
		{6, []uint64{4, 7}}, // 6 is in segment 4: it stays
		{7, []uint64{7}},
		{100, []uint64{7}}, // the current segment stays
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("below ", tc.below), func(t *testing.T) {
			dir := t.TempDir()
			j := openJournal(t, dir, testKey, 0)
			for _, want := range []uint64{4, 7} {
				appendN(j, 3, "d")
				got, err := j.Rotate()
				if err != nil || got != want {
					t.Fatalf("rotate: %d, %v; want %d", got, err, want)
				}
			}
			appendN(j, 3, "d")
			flush(t, j)
			if err := j.Release(tc.below); err != nil {
				t.Fatal(err)
			}
			if got := segmentFirsts(t, dir); !slices.Equal(got, tc.wantSegments) {
				t.Fatalf("segments %v, want %v", got, tc.wantSegments)
			}
			got, _ := replayAll(t, j)
			if want := seqRange(tc.wantSegments[0], 9); !slices.Equal(seqs(got), want) {
				t.Fatalf("replayed %v, want %v", seqs(got), want)
			}
		})
	}
}

// Replay after a sequence number does not read the segments wholly at or
// below it: a start from a snapshot that holds them.
func TestReplayAfter(t *testing.T) {
	tests := []struct {
		after        uint64
		wantSegments int
	}{
		{0, 3},
		{3, 2},
		{5, 2}, // 4 and 5 are read and passed over
		{6, 1},
		{9, 1}, // the last segment is read: records may follow
		{20, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("after ", tc.after), func(t *testing.T) {
			dir := t.TempDir()
			j := openJournal(t, dir, testKey, 0)
			for range 2 {
				appendN(j, 3, "d")
				if _, err := j.Rotate(); err != nil {
					t.Fatal(err)
				}
			}
			appendN(j, 3, "d")
			flush(t, j)
			got, st := replayAfter(t, j, tc.after)
			if want := seqRange(tc.after+1, 9); !slices.Equal(seqs(got), want) {
				t.Fatalf("replayed %v, want %v", seqs(got), want)
			}
			if st.Segments != tc.wantSegments || st.Records != len(got) {
				t.Fatalf("stats %+v, want %d segments read and %d records", st, tc.wantSegments, len(got))
			}
		})
	}
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 2, "d")
	// Rotated with records pending: they go to the old segment.
	if got, err := j.Rotate(); err != nil || got != 3 {
		t.Fatalf("rotate: %d, %v; want 3", got, err)
	}
	if j.Written() != 2 {
		t.Fatalf("Written() = %d after a rotate, want 2", j.Written())
	}
	// The new segment holds nothing yet: it is what a rotate would start.
	if got, err := j.Rotate(); err != nil || got != 3 {
		t.Fatalf("rotate of an empty segment: %d, %v; want 3", got, err)
	}
	if got := segmentFirsts(t, dir); !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("segments %v, want [1 3]", got)
	}
}

func TestTornSegment(t *testing.T) {
	// Segment 1 holds blocks of 1-3 and 4-5; segment 6 holds 6-7.
	tests := []struct {
		name string
		tear func(t *testing.T, seg1, seg6 string)
		want []uint64
	}{
		{"last block cut short", truncateBy(3), []uint64{1, 2, 3, 6, 7}},
		{"last block's length cut short", truncateTo(2 - lastBlockLen(2)), []uint64{1, 2, 3, 6, 7}},
		{"byte flipped in the last block", flipByte(-1), []uint64{1, 2, 3, 6, 7}},
		{"byte flipped in the first block", flipByte(headerLen + lengthLen + nonceLen + 1), []uint64{6, 7}},
		{"header cut short", truncateTo(headerLen - 1), []uint64{6, 7}},
		{"empty file", truncateTo(0), []uint64{6, 7}},
		{"blocks swapped", swapBlocks, []uint64{6, 7}},
		{"block moved from another segment", moveBlock, []uint64{1, 2, 3, 4, 5, 6, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := openJournal(t, dir, testKey, 0)
			appendN(j, 3, "d")
			flush(t, j)
			appendN(j, 2, "d")
			if _, err := j.Rotate(); err != nil {
				t.Fatal(err)
			}
			appendN(j, 2, "d")
			closeJournal(t, j)
			tc.tear(t, segmentPath(dir, 1), segmentPath(dir, 6))

			got, st := replayAll(t, openJournal(t, dir, testKey, 0))
			if !slices.Equal(seqs(got), tc.want) {
				t.Fatalf("replayed %v, want %v", seqs(got), tc.want)
			}
			if want := (Stats{Segments: 3, Records: len(tc.want), Torn: 1}); st != want {
				t.Fatalf("stats %+v, want %+v", st, want)
			}
		})
	}
}

// lastBlockLen is the size on disk of a block of n records of appendN.
func lastBlockLen(n int) int {
	var plain []byte
	for range n {
		plain = appendRecord(plain, 4, &rules.Reading{DeviceID: "d", Stream: rules.Telemetry, BatteryPct: ptr(50.0)})
	}
	return lengthLen + nonceLen + len(plain) + tagLen
}

func truncateBy(n int) func(*testing.T, string, string) {
	return truncateTo(-n)
}

// truncateTo cuts the first segment to size bytes, or by -size bytes when
// size is negative.
func truncateTo(size int) func(*testing.T, string, string) {
	return func(t *testing.T, path, _ string) {
		if size < 0 {
			size += len(readFile(t, path))
		}
		if err := os.Truncate(path, int64(size)); err != nil {
			t.Fatal(err)
		}
	}
}

// flipByte flips the first segment's byte at offset, from the end when it
// is negative.
func flipByte(offset int) func(*testing.T, string, string) {
	return func(t *testing.T, path, _ string) {
		b := readFile(t, path)
		if offset < 0 {
			offset += len(b)
		}
		b[offset] ^= 0x01
		writeFile(t, path, b)
	}
}

func swapBlocks(t *testing.T, seg1, _ string) {
	header, blocks := splitBlocks(t, seg1)
	writeFile(t, seg1, slices.Concat(header, blocks[1], blocks[0]))
}

func moveBlock(t *testing.T, seg1, seg6 string) {
	_, blocks := splitBlocks(t, seg6)
	writeFile(t, seg1, slices.Concat(readFile(t, seg1), blocks[0]))
}

// splitBlocks is a segment's header and its blocks, each with its length.
func splitBlocks(t *testing.T, path string) (header []byte, blocks [][]byte) {
	b := readFile(t, path)
	header, b = b[:headerLen], b[headerLen:]
	for len(b) > 0 {
		n := lengthLen + int(binary.LittleEndian.Uint32(b))
		blocks, b = append(blocks, b[:n]), b[n:]
	}
	return header, blocks
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSeqsOutOfOrder checks that a block whose seqs are not above those
// before it, though it opens, ends its segment.
func TestSeqsOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	w, err := createSegment(dir, testKey, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 3, 6} {
		if err := w.write(appendRecord(nil, seq, &rules.Reading{})); err != nil {
			t.Fatal(err)
		}
	}
	w.f.Close()
	got, st := replayAll(t, openJournal(t, dir, testKey, 0))
	if !slices.Equal(seqs(got), []uint64{5}) || st.Torn != 1 {
		t.Fatalf("replayed %v (%+v), want [5] and one torn", seqs(got), st)
	}
}

func TestOpenAfterTornTail(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 3, "d")
	flush(t, j)
	appendN(j, 2, "d")
	flush(t, j)
	closeJournal(t, j)
	flipByte(-1)(t, segmentPath(dir, 1), "")

	// Seqs go on above the last block that opens.
	j = openJournal(t, dir, testKey, 0)
	if got := j.Append(rules.Reading{}); got != 4 {
		t.Fatalf("first seq %d, want 4", got)
	}
}

func TestWrongKey(t *testing.T) {
	otherKey := bytes.Repeat([]byte{0x17}, 32)
	dir := t.TempDir()
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 3, "d")
	closeJournal(t, j)

	t.Run("open", func(t *testing.T) {
		if _, err := Open(dir, otherKey, 0); err == nil || !strings.Contains(err.Error(), "another key") {
			t.Fatalf("open with another key: %v, want an error saying so", err)
		}
		if got := segmentFirsts(t, dir); !slices.Equal(got, []uint64{1}) {
			t.Fatalf("segments %v after a failed open, want [1]", got)
		}
	})
	t.Run("replay", func(t *testing.T) {
		// A journal of the other key, with the first key's segment below its own.
		other := t.TempDir()
		j := openJournal(t, other, otherKey, 100)
		appendN(j, 2, "other")
		closeJournal(t, j)
		writeFile(t, segmentPath(other, 1), readFile(t, segmentPath(dir, 1)))
		handed := 0
		_, err := openJournal(t, other, otherKey, 0).Replay(0, func(uint64, rules.Reading) error {
			handed++
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "another key") || handed != 0 {
			t.Fatalf("replay: %d records, %v; want none and an error saying another key", handed, err)
		}
	})
	t.Run("short key", func(t *testing.T) {
		if _, err := Open(t.TempDir(), testKey[:16], 0); err == nil {
			t.Fatal("opened with a 16-byte key")
		}
	})
}

func TestReplayError(t *testing.T) {
	j := openJournal(t, t.TempDir(), testKey, 0)
	appendN(j, 5, "d")
	flush(t, j)
	stop := errors.New("stop")
	var handed []uint64
	_, err := j.Replay(0, func(seq uint64, _ rules.Reading) error {
		handed = append(handed, seq)
		if seq == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(handed, []uint64{1, 2}) {
		t.Fatalf("replay handed %v and returned %v; want [1 2] and the error of fn", handed, err)
	}
}

// TestFailedWrite checks that a Flush whose write fails keeps its records
// and that the next one writes them to a new segment.
func TestFailedWrite(t *testing.T) {
	tests := []struct {
		name         string
		blocksBefore int
		wantSegments []uint64
	}{
		// The failed segment held a block: it stays, the next begins at 2.
		{"segment with a block", 1, []uint64{1, 2}},
		// The failed segment held nothing: it is removed, and its name taken again.
		{"segment with no block", 0, []uint64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := openJournal(t, dir, testKey, 0)
			for range tc.blocksBefore {
				appendN(j, 1, "d")
				flush(t, j)
			}
			last := appendN(j, 3, "d")
			j.seg.f.Close() // the next write fails
			if err := j.Flush(); err == nil {
				t.Fatal("flush to a closed file succeeded")
			}
			if j.Written() >= last {
				t.Fatalf("Written() = %d after a failed flush of %d", j.Written(), last)
			}
			last = appendN(j, 1, "d")
			flush(t, j)
			if j.Written() != last {
				t.Fatalf("Written() = %d, want %d", j.Written(), last)
			}
			if got := segmentFirsts(t, dir); !slices.Equal(got, tc.wantSegments) {
				t.Fatalf("segments %v, want %v", got, tc.wantSegments)
			}
			got, st := replayAll(t, j)
			if !slices.Equal(seqs(got), seqRange(1, last)) || st.Torn != 0 {
				t.Fatalf("replayed %v (%+v), want 1 to %d and nothing torn", seqs(got), st, last)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	j := openJournal(t, t.TempDir(), testKey, 0)
	appendN(j, 1, "d")
	closeJournal(t, j)
	if j.Written() != 1 {
		t.Fatalf("Written() = %d after close, want 1", j.Written())
	}
	appendN(j, 1, "d")
	if err := j.Flush(); err == nil {
		t.Fatal("flush after close succeeded")
	}
	if _, err := j.Rotate(); err == nil {
		t.Fatal("rotate after close succeeded")
	}
	if err := j.Close(); err == nil {
		t.Fatal("second close succeeded")
	}
}

// TestConcurrentAppend appends from many goroutines, some of which flush
// too, while another flushes and rotates in a loop.
func TestConcurrentAppend(t *testing.T) {
	const appenders, each = 8, 2000
	j := openJournal(t, t.TempDir(), testKey, 0)
	devices := make([]string, appenders*each+1) // by seq
	var appended atomic.Uint64                  // the highest seq some Append returned
	var wg sync.WaitGroup
	errs := make(chan error, appenders+1)
	for a := range appenders {
		wg.Go(func() {
			for i := range each {
				device := fmt.Sprintf("a%d-%d", a, i)
				seq := j.Append(rules.Reading{DeviceID: device, Kind: registry.Wristband})
				devices[seq] = device
				for {
					seen := appended.Load()
					if seq <= seen || appended.CompareAndSwap(seen, seq) {
						break
					}
				}
				if i%100 == 0 {
					if err := j.Flush(); err != nil {
						errs <- err
						return
					}
					if j.Written() < seq {
						errs <- fmt.Errorf("Written() = %d after a flush of %d", j.Written(), seq)
						return
					}
				}
			}
		})
	}
	done := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			before := appended.Load()
			if err := j.Flush(); err != nil {
				errs <- err
				return
			}
			if j.Written() < before {
				errs <- fmt.Errorf("Written() = %d after a flush begun at %d", j.Written(), before)
				return
			}
			if i%50 == 0 {
				if _, err := j.Rotate(); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	wg.Wait()
	close(done)
	<-flushed
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	flush(t, j)

	got, st := replayAll(t, j)
	if !slices.Equal(seqs(got), seqRange(1, appenders*each)) {
		t.Fatalf("replayed %d records, want every seq from 1 to %d once, in order", len(got), appenders*each)
	}
	for _, rec := range got {
		if rec.reading.DeviceID != devices[rec.seq] {
			t.Fatalf("seq %d holds %q, Append returned it for %q", rec.seq, rec.reading.DeviceID, devices[rec.seq])
		}
	}
	if st.Torn != 0 {
		t.Fatalf("stats %+v, want nothing torn", st)
	}
}

// TestReplayWhileAppending checks that a Replay during appends and flushes
// reads what was written, and never a block half written for a torn one.
func TestReplayWhileAppending(t *testing.T) {
	j := openJournal(t, t.TempDir(), testKey, 0)
	appendN(j, 100, "d")
	flush(t, j)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			appendN(j, 20, "d")
			if err := j.Flush(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for replaying := true; replaying; {
		select {
		case <-done:
			replaying = false // one more, of everything
		default:
		}
		written := j.Written()
		got, st := replayAll(t, j)
		if st.Torn != 0 || len(got) < int(written) || !slices.Equal(seqs(got), seqRange(1, uint64(len(got)))) {
			t.Errorf("replayed %d records (%+v) with %d written before; want them all, in order, nothing torn", len(got), st, written)
			break
		}
	}
	<-done
}

func BenchmarkAppend(b *testing.B) {
	j := openJournal(b, b.TempDir(), testKey, 0)
	r := testReadings[0].reading
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// A flush every thousand records or so keeps the buffers at a steady size.
			if j.Append(r)%1024 == 0 {
				if err := j.Flush(); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}

func BenchmarkFlush(b *testing.B) {
	j := openJournal(b, b.TempDir(), testKey, 0)
	r := testReadings[0].reading
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 200 {
			j.Append(r)
		}
		b.StartTimer()
		if err := j.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// Continue numbers what follows above a state's number, never below what
// was handed out; the records keep their order across the gap.
func TestContinue(t *testing.T) {
	tests := []struct {
		name  string
		after uint64
		want  []uint64
	}{
		{"above", 10, []uint64{1, 2, 11}},
		{"below", 1, []uint64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := openJournal(t, t.TempDir(), testKey, 0)
			appendN(j, 2, "wm-1")
			j.Continue(tt.after)
			appendN(j, 1, "wm-1")
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			if got, _ := replayAll(t, j); !slices.Equal(seqs(got), tt.want) {
				t.Errorf("seqs %v, want %v", seqs(got), tt.want)
			}
		})
	}
}

// TestReleaseShreds: a released segment is gone, and what it leaves on
// disk cannot be read with the journal's key, even with the header put
// back as far as anyone knows it: its key's salt is overwritten.
func TestReleaseShreds(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 3, "d")
	if _, err := j.Rotate(); err != nil {
		t.Fatal(err)
	}
	appendN(j, 3, "d")
	flush(t, j)
	left := testkit.LeftOnDisk(t, segmentPath(dir, 1), func() error { return j.Release(4) })
	if got := segmentFirsts(t, dir); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("segments %v after the release, want [4]", got)
	}
	if !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
		t.Fatalf("the released segment's header is left on disk: % x", left[:headerLen])
	}
	copy(left, magic)
	binary.LittleEndian.PutUint64(left[len(magic):], 1)
	other := t.TempDir()
	writeFile(t, segmentPath(other, 1), left)
	back, err := Open(other, testKey, 0)
	if err == nil {
		defer back.Close()
		handed := 0
		back.Replay(0, func(uint64, rules.Reading) error {
			handed++
			return nil
		})
		t.Fatalf("a released segment opened again, %d records read back", handed)
	}
}

// TestRemove: a journal left by an earlier run is shredded file by file,
// then its directory removed; no journal is no error.
func TestRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 3, "d")
	closeJournal(t, j)
	left := testkit.LeftOnDisk(t, segmentPath(dir, 1), func() error { return Remove(dir) })
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the journal's directory is left: %v", err)
	}
	if !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
		t.Fatalf("a removed segment's header is left on disk: % x", left[:headerLen])
	}
	if err := Remove(dir); err != nil {
		t.Fatalf("removing no journal: %v", err)
	}
}

// TestShreddingLeftoverIsNoSegment: a segment whose shredding a kill cut
// short (its header overwritten) is under the shredding name, which a
// start does not read as a segment, and the next release shreds it.
func TestShreddingLeftoverIsNoSegment(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, testKey, 0)
	appendN(j, 3, "d")
	flush(t, j)
	cut := append(make([]byte, headerLen), []byte("the rest of a released segment")...)
	writeFile(t, segmentPath(dir, 1)+shred.Suffix, cut)
	if got, _ := replayAll(t, j); len(got) != 3 {
		t.Fatalf("replayed %d records beside a shredding's leftover, want 3", len(got))
	}
	if err := j.Release(1); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+shred.Suffix)); len(left) != 0 {
		t.Fatalf("leftovers after a release: %v", left)
	}
}

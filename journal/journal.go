// Package journal keeps the readings applied to the rules engine since its
// states were last saved, so that a restart can apply them again: an
// append-only log in segment files in one directory, encrypted with
// AES-256-GCM, for readings hold residents' routines and whereabouts.
//
// A reading is appended before its message is acknowledged, and written by
// the next Flush with one write system call and no fsync: it survives the
// process being killed, not a power loss. What a power loss tears is found
// by Replay and counted, never handed over.
package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/shred"
)

// Journal is an append-only, encrypted log of readings, in segment files in a directory.
type Journal struct {
	dir string
	key []byte

	// mu is all Append takes: it guards the records not yet swapped out
	// for writing and the next seq.
	mu      sync.Mutex
	pending []byte
	next    uint64

	written atomic.Uint64

	// flushMu serializes Flush, Rotate and Close, and guards what follows.
	flushMu sync.Mutex
	// spare is the buffer pending is swapped with: the two go round, so
	// that Append allocates nothing once they have grown.
	spare []byte
	// seg is the segment written to; nil after a failed write abandoned
	// it, until the next Flush starts another.
	seg    *segmentWriter
	closed bool
}

// Stats tells what Replay found.
type Stats struct {
	// Segments is how many segment files were read.
	Segments int
	// Records is how many records were handed over.
	Records int
	// Torn is how many segments ended in a block that does not open or
	// decode (or a header cut short): a write torn by a power loss.
	Torn int
}

var errClosed = errors.New("journal: closed")

// initialBuffer is where the two buffers start: a few milliseconds of
// readings at the steady rate, so that they rarely need to grow.
const initialBuffer = 64 << 10

// Open opens (creating if needed, mode 0700 dir / 0600 files) the journal in dir, with key (32 bytes).
// Sequence numbers handed out continue above max(after, the highest found in dir's segments); the first ever is 1.
// It starts a new segment for what is appended from now on (never appends to a file a crash may have left torn).
//
// The highest found is that of the last segment's last block that opens; a
// segment sealed with another key is an error.
func Open(dir string, key []byte, after uint64) (*Journal, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("journal: key of %d bytes, want 32", len(key))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: open: %w", err)
	}
	segments, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	highest := after
	if len(segments) > 0 {
		last := segments[len(segments)-1]
		seq, err := highestSeq(last, key)
		if err != nil {
			return nil, err
		}
		// The new segment's name must be above the last one's even when
		// that holds no record that opens.
		highest = max(highest, last.first, seq)
	}
	if highest == math.MaxUint64 {
		return nil, errors.New("journal: open: sequence numbers exhausted")
	}
	j := &Journal{
		dir:     dir,
		key:     bytes.Clone(key),
		next:    highest + 1,
		pending: make([]byte, 0, initialBuffer),
		spare:   make([]byte, 0, initialBuffer),
	}
	// What an earlier run left is written: a snapshot taken after a run
	// that appended nothing holds it all the same.
	j.written.Store(highest)
	if j.seg, err = createSegment(dir, j.key, j.next); err != nil {
		return nil, err
	}
	return j, nil
}

// Append encodes r into the pending buffer and returns its sequence number. It does no I/O: it is called
// with the engine's per-household lock held, hundreds of thousands of times a second. Safe for concurrent use;
// sequence numbers are handed out in the order Append calls are serialized, and records are written in that order.
//
// A record appended after Close is never written.
func (j *Journal) Append(r rules.Reading) uint64 {
	j.mu.Lock()
	seq := j.next
	j.next++
	j.pending = appendRecord(j.pending, seq, &r)
	j.mu.Unlock()
	return seq
}

// Flush writes every record appended before it was called to the current segment as ONE sealed block
// (one write system call, no fsync) and returns once it is written. Concurrent Flush calls are serialized;
// a Flush with nothing pending returns at once. After it returns nil, Written() >= every seq appended before the call.
//
// A Flush that fails keeps its records, to be written by the next one to a
// new segment.
func (j *Journal) Flush() error {
	j.mu.Lock()
	appended := j.next - 1
	j.mu.Unlock()
	if j.written.Load() >= appended {
		return nil
	}
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	// A Flush that held flushMu meanwhile may have written them all.
	if j.written.Load() >= appended {
		return nil
	}
	return j.flush()
}

// flush writes what is pending; flushMu is held.
func (j *Journal) flush() error {
	if j.closed {
		return errClosed
	}
	j.mu.Lock()
	block, last := j.pending, j.next-1
	j.pending, j.spare = j.spare, nil
	j.mu.Unlock()
	if len(block) == 0 {
		j.spare = block
		return nil
	}
	if err := j.write(block); err != nil {
		// The block's records go back ahead of those appended since.
		j.mu.Lock()
		newer := j.pending
		j.pending = append(block, newer...)
		j.mu.Unlock()
		j.spare = newer[:0]
		return err
	}
	j.written.Store(last)
	j.spare = block[:0]
	return nil
}

// write writes block to the current segment, first starting one if a
// failed write abandoned the last.
func (j *Journal) write(block []byte) error {
	if j.seg == nil {
		seg, err := createSegment(j.dir, j.key, firstSeq(block))
		if err != nil {
			return err
		}
		j.seg = seg
	}
	if err := j.seg.write(block); err != nil {
		j.seg.abandon()
		j.seg = nil
		return err
	}
	return nil
}

// Continue numbers the records appended from now on above after. A start
// passes the highest a loaded state holds: an alarm's state is written
// before the journal is, so a crash can leave it above every record
// written, and a number handed out again would be taken for a record that
// state holds.
func (j *Journal) Continue(after uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next = max(j.next, after+1)
}

// Written is the highest sequence number written to a segment file, or
// found in one (or passed as after) at Open (0: none).
func (j *Journal) Written() uint64 {
	return j.written.Load()
}

// Rotate flushes, then starts a new segment; it returns the first sequence number the new segment will hold:
// every record below it is in an older segment.
//
// When the current segment holds no block yet, it is the new one: Rotate
// returns its first seq and starts no other.
func (j *Journal) Rotate() (uint64, error) {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	if err := j.flush(); err != nil {
		return 0, err
	}
	if j.seg != nil && j.seg.index == 0 {
		return j.seg.first, nil
	}
	j.mu.Lock()
	first := j.next
	if len(j.pending) > 0 {
		first = firstSeq(j.pending)
	}
	j.mu.Unlock()
	if j.seg != nil {
		err := j.seg.f.Close()
		j.seg = nil
		if err != nil {
			return 0, fmt.Errorf("journal: close segment: %w", err)
		}
	}
	seg, err := createSegment(j.dir, j.key, first)
	if err != nil {
		return 0, err
	}
	j.seg = seg
	return first, nil
}

// Release shreds the segments all of whose records are below `below`:
// their headers, whose salts their keys are derived from, overwritten on
// disk before they are removed, for they hold residents' readings, some
// of households erased since (docs/privacy.md). It never removes the
// current segment.
//
// A segment's records are all below the first seq of the one after it, and
// the current segment is the last: Release removes a segment when the next
// one begins at or below `below`. It does not take flushMu, for it touches
// no file that is still written, and a Flush (an acknowledgement) should
// not wait for large files to be unlinked.
func (j *Journal) Release(below uint64) error {
	// What a process killed while shredding left; not a segment any more.
	if err := shred.Leftovers(j.dir, shred.Header(headerLen)); err != nil {
		return fmt.Errorf("journal: release: %w", err)
	}
	segments, err := listSegments(j.dir)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(segments) && segments[i+1].first <= below; i++ {
		// A concurrent Release may have removed it first: no error.
		if err := segments[i].shred(); err != nil {
			return fmt.Errorf("journal: release: %w", err)
		}
	}
	return nil
}

// Replay hands every record above after of every segment in the directory (those of earlier runs included),
// in sequence order, to fn; a segment whose records are all at or below after is not read. A block that does not decrypt or decode (a write torn by a power loss) ends its segment:
// Replay goes on with the next segment and counts it in the returned Stats. An error from fn stops Replay and is returned, wrapped.
//
// A segment sealed with another key, or not of this format, is an error,
// not a torn one: passing over it would drop all its records, and a later
// Release would delete them. Called while readings are appended, Replay
// reads the current segment as far as it was written when Replay began.
func (j *Journal) Replay(after uint64, fn func(seq uint64, r rules.Reading) error) (Stats, error) {
	j.flushMu.Lock()
	segments, err := listSegments(j.dir)
	currentPath, currentSize := "", int64(-1)
	if j.seg != nil {
		currentPath, currentSize = j.seg.f.Name(), j.seg.size
	}
	j.flushMu.Unlock()
	if err != nil {
		return Stats{}, err
	}
	p := replayer{key: j.key, fn: fn, after: after}
	for i, seg := range segments {
		if i+1 < len(segments) && segments[i+1].first <= after+1 {
			continue // every record of it is below the next one's first
		}
		limit := int64(-1)
		if seg.path == currentPath {
			limit = currentSize
		}
		if err := p.segment(seg, limit); err != nil {
			return p.stats, err
		}
	}
	return p.stats, nil
}

// replayer hands the records of segments, in order, to fn.
type replayer struct {
	key     []byte
	fn      func(uint64, rules.Reading) error
	after   uint64 // records at or below it are not handed over
	last    uint64 // the seq last read
	records []record
	stats   Stats
}

// segment replays seg, reading no further than limit bytes (all of it if
// limit < 0).
func (p *replayer) segment(seg segmentFile, limit int64) error {
	f, r, err := openSegment(seg, p.key, limit)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Released since it was listed: its records are let go.
		return nil
	case errors.Is(err, errTorn):
		p.stats.Segments++
		p.stats.Torn++
		return nil
	case err != nil:
		return err
	}
	defer f.Close()
	p.stats.Segments++
	for {
		plain, err := r.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			p.records, err = decodeBlock(plain, max(p.last, seg.first-1), p.records[:0])
			if err != nil {
				err = errTorn
			}
		}
		if errors.Is(err, errTorn) {
			p.stats.Torn++
			return nil
		}
		if err != nil {
			return err
		}
		for _, rec := range p.records {
			p.last = rec.seq
			if rec.seq <= p.after {
				continue
			}
			if err := p.fn(rec.seq, rec.reading); err != nil {
				return fmt.Errorf("journal: replay record %d: %w", rec.seq, err)
			}
			p.stats.Records++
		}
	}
}

// Close flushes and closes the current segment.
func (j *Journal) Close() error {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	if j.closed {
		return errClosed
	}
	err := j.flush()
	j.closed = true
	if j.seg != nil {
		if cerr := j.seg.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("journal: close segment: %w", cerr)
		}
		j.seg = nil
	}
	return err
}

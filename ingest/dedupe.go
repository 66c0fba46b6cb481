package ingest

import (
	"strings"
	"sync"
	"time"
)

// windowSize is how many seqs below a device's highest one are remembered, so a
// message overtaken by up to this many later ones is still accepted once.
const windowSize = 64

// Dedup spots repeated seqs per device: QoS 1 redelivery and gateways that resend
// what they buffered. The zero value is ready to use; it must not be copied.
//
// One mutex guards all devices rather than shards of them: the critical section
// is a map lookup and a few integer operations, tens of nanoseconds, so even
// thousands of messages a second keep it nearly always free, and the simpler
// code wins.
//
// State lives in memory only: after a restart of the monitor a redelivered
// message may be accepted once more, which the rules tolerate because they never
// move state backwards.
type Dedup struct {
	mu      sync.Mutex
	devices map[string]window
}

// window is one device's recent seqs: 24 bytes.
type window struct {
	top uint64 // highest seq accepted
	// seen has bit i set when seq top-1-i was accepted.
	seen uint64
	// newest is the newest ts accepted, in Unix milliseconds: the contract's
	// coarsest unit, and smaller than a time.Time.
	newest int64
}

// Duplicate reports whether seq was already seen for deviceID: the message is
// a copy of one accepted before. It records nothing; Record does, once the
// message has been handled, so a message whose handling failed is not dropped
// as a duplicate when the broker delivers it again.
//
// A seq that would count as a duplicate (the highest one, one already seen in the
// window, or one too far below it to tell) but whose ts is newer than any accepted
// from the device cannot be a copy of an accepted message, since a copy carries
// the same ts. The device restarted its counter (a reboot, a battery swap).
func (d *Dedup) Duplicate(deviceID string, seq uint64, ts time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.devices[deviceID]
	return ok && w.repeats(seq) && ts.UnixMilli() <= w.newest
}

// Record notes that seq, stamped ts, was accepted from deviceID. After a
// counter restart (see Duplicate) the device's window starts again from seq.
func (d *Dedup) Record(deviceID string, seq uint64, ts time.Time) {
	ms := ts.UnixMilli()
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.devices[deviceID]
	switch {
	case !ok:
		if d.devices == nil {
			d.devices = make(map[string]window)
		}
		// Clone so the map does not pin the buffer deviceID was cut from.
		deviceID = strings.Clone(deviceID)
		w = window{top: seq, newest: ms}
	case w.repeats(seq):
		if ms <= w.newest {
			return
		}
		w = window{top: seq, newest: ms}
	default:
		w.accept(seq)
		w.newest = max(w.newest, ms)
	}
	d.devices[deviceID] = w
}

// repeats reports whether seq is the top, was seen in the window, or lies below it.
func (w *window) repeats(seq uint64) bool {
	if seq >= w.top {
		return seq == w.top
	}
	below := w.top - seq
	return below > windowSize || w.seen&(1<<(below-1)) != 0
}

// accept records a seq that repeats reported false.
func (w *window) accept(seq uint64) {
	if seq < w.top {
		w.seen |= 1 << (w.top - seq - 1)
		return
	}
	// The old top moves into the window at bit shift-1. A shift of 64 or more
	// clears the window: Go defines shifts past the width as 0.
	shift := seq - w.top
	w.seen = w.seen<<shift | 1<<(shift-1)
	w.top = seq
}

// Forget drops what is remembered of devices, e.g. once they are deregistered.
func (d *Dedup) Forget(deviceIDs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range deviceIDs {
		delete(d.devices, id)
	}
}

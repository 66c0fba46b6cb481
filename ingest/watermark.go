package ingest

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// Under the event clock, workers apply messages in parallel, so one worker
// may move the clock hours past messages another still has queued (at
// simulation speed a second of backlog is an hour of event time). Deadlines
// must not fire past what every worker has caught up to: a wristband whose
// heartbeat waits in a queue is not offline. The low watermark is that bound.

// mark is one worker's progress: how many messages it has been given and not
// finished, and the event time of the one it is handling or handled last.
//
// A worker that was idle is given a message of unknown time. Its last
// message's time would hold deadlines back as far as that is old, and a
// worker whose few devices spoke hours ago would hold every household's
// deadlines back whenever it is given one: a no_exit due at 09:31 fired at
// 09:49 in a simulation. A lane is one broker session, which delivers in the
// order messages were published, so a message given now is no older than
// the newest one the lane has applied: the idle worker's mark moves up to
// that (take).
type mark struct {
	pending atomic.Int64
	ts      atomic.Int64 // Unix ns; 0 until its first message
	// newest is the lane's newest event time applied, shared by its marks.
	newest *atomic.Int64
}

// take counts a message given to the worker.
func (m *mark) take() {
	if m.pending.Add(1) == 1 {
		raise(&m.ts, m.newest.Load())
	}
}

// raise moves v up to at least ts.
func raise(v *atomic.Int64, ts int64) {
	for {
		old := v.Load()
		if old >= ts || v.CompareAndSwap(old, ts) {
			return
		}
	}
}

type markKey struct{}

// withMark lets the pipeline record a message's event time on its worker's
// mark before the message is handled.
func withMark(ctx context.Context, m *mark) context.Context {
	return context.WithValue(ctx, markKey{}, m)
}

func markFrom(ctx context.Context) *mark {
	m, _ := ctx.Value(markKey{}).(*mark)
	return m
}

// record notes that the worker of ctx is at event time ts, and its lane at
// ts or at now if earlier: a device whose clock runs a day fast must not
// move the lane's newest time, and with it every idle worker's mark, a day
// ahead of the clock.
func record(ctx context.Context, ts, now time.Time) {
	if m := markFrom(ctx); m != nil {
		m.ts.Store(ts.UnixNano())
		raise(m.newest, min(ts.UnixNano(), now.UnixNano()))
	}
}

// Watermark is the event time every worker with work in hand has reached:
// deadlines up to it may fire. bounded is false when no worker has any work,
// so nothing holds the clock back; a worker given work before it handled
// anything holds it at the zero time.
func (in *Intake) Watermark() (wm time.Time, bounded bool) {
	low := int64(math.MaxInt64)
	for li := range in.lanes {
		for i := range in.lanes[li].marks {
			m := &in.lanes[li].marks[i]
			if m.pending.Load() == 0 {
				continue
			}
			bounded = true
			low = min(low, m.ts.Load())
		}
	}
	if !bounded {
		return time.Time{}, false
	}
	if low == 0 {
		return time.Time{}, true
	}
	return time.Unix(0, low), true
}

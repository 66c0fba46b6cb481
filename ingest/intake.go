package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Delivery is one message as a broker hands it over: its topic, its payload,
// and how to acknowledge it once it is handled.
type Delivery struct {
	Topic   string
	Payload []byte
	// Ack acknowledges the message to the broker; it is called once the
	// message's effect is stored, or once it is rejected for good.
	Ack func()
}

// IntakeOptions wire an Intake.
type IntakeOptions struct {
	Prefix   string
	Pipeline *Pipeline
	// Tick receives simulator clock ticks; nil when the monitor runs on the
	// wall clock, which refuses them (with a log line).
	Tick func(ts time.Time)
	// Workers process messages in parallel; a device's messages always go to
	// the same worker, so they are applied in the order they arrived.
	Workers   int
	QueueSize int
	Logger    *slog.Logger
}

// Intake takes messages from a broker, spreads them over per-device worker
// queues, and acknowledges each only once it has been handled, so a crash
// leaves unhandled messages with the broker for redelivery.
type Intake struct {
	opts   IntakeOptions
	queues []chan Delivery
	marks  []mark
	seed   maphash.Seed
	ticks  rejectLog
}

// NewIntake checks the options.
func NewIntake(opts IntakeOptions) (*Intake, error) {
	if opts.Pipeline == nil || opts.Prefix == "" {
		return nil, errors.New("ingest: pipeline and prefix are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Intake{opts: opts, seed: maphash.MakeSeed(), ticks: rejectLog{logger: opts.Logger, every: time.Minute}}
	in.queues = make([]chan Delivery, opts.Workers)
	in.marks = make([]mark, opts.Workers)
	for i := range in.queues {
		in.queues[i] = make(chan Delivery, opts.QueueSize)
	}
	return in, nil
}

// ClockTopic is where simulator clock ticks arrive.
func (in *Intake) ClockTopic() string { return in.opts.Prefix + "/sim/clock" }

// Submit hands the message to its device's worker. It blocks when that
// worker is far behind, which slows the broker down instead of losing data.
func (in *Intake) Submit(d Delivery) {
	key := d.Topic
	if i := strings.LastIndexByte(key, '/'); i > 0 {
		key = key[:i] // the device, whatever its stream
	}
	w := maphash.String(in.seed, key) % uint64(len(in.queues))
	in.marks[w].pending.Add(1)
	in.queues[w] <- d
}

// Run processes messages until ctx is cancelled, then finishes the messages
// already submitted. Stop whoever submits first.
func (in *Intake) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	work := context.WithoutCancel(ctx)
	for i, q := range in.queues {
		wg.Go(func() { in.work(withMark(work, &in.marks[i]), q, ctx.Done()) })
	}
	wg.Wait()
	return nil
}

func (in *Intake) work(ctx context.Context, q chan Delivery, stop <-chan struct{}) {
	for {
		select {
		case d := <-q:
			in.process(ctx, d)
		case <-stop:
			for {
				select {
				case d := <-q:
					in.process(ctx, d)
				default:
					return
				}
			}
		}
	}
}

func (in *Intake) process(ctx context.Context, d Delivery) {
	acked := false
	if mk := markFrom(ctx); mk != nil {
		defer mk.pending.Add(-1)
	}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		// A bug, not the device's doing, but the same message would panic
		// again at every redelivery: it is dropped (acknowledged), and ingest
		// goes on with the next one.
		in.opts.Logger.Error("panic while handling a device message; message dropped",
			"topic", d.Topic, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !acked {
			ackQuietly(d)
		}
	}()
	var err error
	if d.Topic == in.ClockTopic() {
		in.tick(ctx, d.Payload)
	} else {
		err = in.opts.Pipeline.Ingest(ctx, d.Topic, d.Payload)
	}
	if err != nil && ReasonOf(err) == "" {
		// Not durable: leave it unacknowledged for redelivery.
		in.opts.Logger.Error("device message not handled", "topic", d.Topic, "err", err)
		return
	}
	acked = true
	d.Ack()
}

// ackQuietly acknowledges a message whose handling panicked; a panic of the
// acknowledgement itself is swallowed.
func ackQuietly(d Delivery) {
	defer func() { _ = recover() }()
	d.Ack()
}

// tick applies a simulator clock tick, or refuses it under the wall clock.
func (in *Intake) tick(ctx context.Context, payload []byte) {
	if in.opts.Tick == nil {
		in.ticks.log("wall_clock", in.ClockTopic(), errors.New("clock tick refused: the monitor runs on the wall clock (start it with --clock event)"))
		return
	}
	ts, err := DecodeTick(payload, in.opts.Pipeline.opts.Bound.Now())
	if err != nil {
		in.ticks.log(ReasonOf(err), in.ClockTopic(), err)
		return
	}
	record(ctx, ts)
	in.opts.Tick(ts)
}

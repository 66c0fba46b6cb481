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
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// ErrStopping: the intake is stopping and takes no more messages.
var ErrStopping = errors.New("ingest is stopping")

// delivery is one message as a broker handed it over: its topic, its
// payload, and how to acknowledge it once it is handled.
type delivery struct {
	topic   string
	payload []byte
	ack     func()
}

// IntakeOptions wire an Intake.
type IntakeOptions struct {
	Prefix   string
	Pipeline *Pipeline
	// Tick applies a simulator clock tick: like the pipeline's Handle, it
	// returns once what it fired is stored, with a channel that closes once
	// all it changed is. Nil when the monitor runs on the wall clock, which
	// refuses ticks (with a log line).
	Tick func(ctx context.Context, ts time.Time) (durable <-chan struct{}, err error)
	// CaughtUp is called by a worker that has applied all it was given:
	// what the low watermark (Watermark) held back may fire now. Under the
	// event clock the next message may come only after the simulator's
	// next wait, ten minutes of event time on. Nil: nothing is called.
	CaughtUp func(ctx context.Context)
	// Workers apply telemetry and status messages in parallel; a device's
	// messages always go to the same worker, so they are applied in the
	// order they arrived. Default 8.
	Workers int
	// EventWorkers apply the event stream (falls, SOS presses, motion, the
	// door), apart from the telemetry, so that no backlog of telemetry can
	// delay a fall. A wristband's messages go before the motion and the
	// doors queued at its worker. Default 2.
	EventWorkers int
	// QueueSize bounds each worker's queue; a full queue holds the broker.
	// Default 1024.
	QueueSize int
	// OneOrder acknowledges every message in the order it was handled: the
	// messages come over the monitor's own sessions with an external
	// broker, which MQTT wants acknowledged in order (acknowledged out of
	// order, Mosquitto was seen handing a device's messages over out of
	// order, docs/performance.md). Otherwise (the embedded broker, each
	// device its own session) only each device's messages keep their
	// order, and a fall stored at once is not held behind other devices'
	// commits.
	OneOrder bool
	Logger   *slog.Logger
}

// Intake takes messages from a broker, spreads them over per-device worker
// queues in two lanes, one for the event stream and one for everything else,
// and acknowledges each message only once it is handled and what it changed
// is stored. A message that is not acknowledged stays with the broker, or
// with the device, and comes again.
type Intake struct {
	opts  IntakeOptions
	lanes [2]lane // telemetry, events
	seed  maphash.Seed
	ticks rejectLog
	acks  chan pendingAck
	// waiting counts the messages of each topic in acks. Without OneOrder,
	// one whose effect is stored when it is handled (an alarm's state is
	// written on its own) is acknowledged at once unless one of its topic
	// waits: each device's acknowledgements keep their order, a fall does
	// not wait behind other devices' commits.
	waiting struct {
		mu sync.Mutex
		n  map[string]int
	}
	stopping chan struct{}
}

const (
	laneTelemetry = iota
	laneEvents
)

// lane is a set of workers, each with its queue and its progress.
type lane struct {
	queues []chan delivery
	// first are the alarm lane's queues its workers take from before their
	// own: a wristband's messages. At a million households the event
	// stream is mostly motion and doors, and a fall waited behind a full
	// queue of them (docs/performance.md, "Twenty-fourth round"). Nil in
	// the telemetry lane.
	first []chan delivery
	marks []mark
}

func newLane(workers, size int, alarms bool) lane {
	l := lane{queues: make([]chan delivery, workers), marks: make([]mark, workers)}
	if alarms {
		l.first = make([]chan delivery, workers)
	}
	newest := new(atomic.Int64)
	for i := range l.queues {
		l.queues[i] = make(chan delivery, size)
		if alarms {
			l.first[i] = make(chan delivery, size)
		}
		l.marks[i].newest = newest
	}
	return l
}

// pendingAck is a handled message waiting for what it changed to be stored.
type pendingAck struct {
	durable <-chan struct{}
	ack     func()
	topic   string
}

// NewIntake checks the options.
func NewIntake(opts IntakeOptions) (*Intake, error) {
	if opts.Pipeline == nil || opts.Prefix == "" {
		return nil, errors.New("ingest: pipeline and prefix are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.EventWorkers <= 0 {
		opts.EventWorkers = 2
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Intake{
		opts:     opts,
		seed:     maphash.MakeSeed(),
		ticks:    rejectLog{logger: opts.Logger, every: time.Minute},
		acks:     make(chan pendingAck, (opts.Workers+opts.EventWorkers)*opts.QueueSize),
		stopping: make(chan struct{}),
	}
	in.waiting.n = make(map[string]int)
	in.lanes[laneTelemetry] = newLane(opts.Workers, opts.QueueSize, false)
	in.lanes[laneEvents] = newLane(opts.EventWorkers, opts.QueueSize, true)
	return in, nil
}

// ClockTopic is where simulator clock ticks arrive.
func (in *Intake) ClockTopic() string { return in.opts.Prefix + "/sim/clock" }

func (in *Intake) sources() Sources { return in.opts.Pipeline.opts.Sources }

// Takes reports whether a topic is the intake's: anything under
// {prefix}/devices/ (a malformed one is counted as bad_topic), the clock
// ticks, and the readings of an enabled source. A source's other topics (a
// gateway's state, availability) are none of ingest's business.
func (in *Intake) Takes(topic string) bool {
	if strings.HasPrefix(topic, in.opts.Prefix+devicesPath) {
		// The monitor's own commands to devices come back on devices/#.
		return !strings.HasSuffix(topic, "/"+CommandStream)
	}
	return topic == in.ClockTopic() || in.sources().Reading(topic)
}

// CommandStream is the topic level the monitor sends devices commands on
// (a wristband's check): {prefix}/devices/{id}/command.
const CommandStream = "command"

// IsEvent reports whether a topic is on the alarm lane: a native device's
// event stream, or a source's alarm topics (Sources.Alarm).
func (in *Intake) IsEvent(topic string) bool {
	return strings.HasSuffix(topic, "/"+string(rules.Event)) || in.sources().Alarm(topic)
}

// Filters are the MQTT subscriptions of a session on an external broker:
// the alarm lane's (the event stream, a source's alarm topics), or the rest
// (the telemetry and status streams, the clock ticks, a source's
// telemetry). The rest does not take the event stream too: a second
// session's acknowledgement of a fall would be the broker's to keep apart
// from the alarm lane's, and a broker whose sessions share one stored copy
// (NATS JetStream, whose messages stream keeps a message only while some
// session still needs it) may then discard a fall the alarm lane has yet
// to handle.
func (in *Intake) Filters(alarm bool) []string {
	srcAlarm, srcTelemetry := in.sources().Filters()
	devices := in.opts.Prefix + devicesPath + "+/"
	if alarm {
		return append([]string{devices + string(rules.Event)}, srcAlarm...)
	}
	return append([]string{devices + string(rules.Telemetry), devices + string(rules.Status), in.ClockTopic()}, srcTelemetry...)
}

// FormerFilters are subscriptions of earlier releases that a persistent
// session may still hold: {prefix}/devices/#, which took the event stream
// on the main session as well.
func (in *Intake) FormerFilters() []string {
	return []string{in.opts.Prefix + devicesPath + "#"}
}

// Submit hands a message to its device's worker in its lane; ack is called
// once the message is handled and stored, or refused for good. It blocks
// while that worker's queue is full, which slows the broker down instead of
// losing data, until ctx ends, the intake stops or, when hold is positive,
// it has waited hold (context.DeadlineExceeded): the message is then not
// taken (and never acknowledged). held reports that it had to wait. The
// wait is timed only once it begins: a deadline set for every message
// (context.WithTimeout) was 2 % of the monitor's CPU and a third of a
// kilobyte a message (docs/performance.md, "Thirty-ninth round").
func (in *Intake) Submit(ctx context.Context, topic string, payload []byte, ack func(), hold time.Duration) (held bool, err error) {
	l := &in.lanes[laneTelemetry]
	if in.IsEvent(topic) {
		l = &in.lanes[laneEvents]
	}
	key := topic // a source's device has one reading topic
	if i := strings.LastIndexByte(key, '/'); i > 0 && !in.sources().Reading(topic) {
		key = key[:i] // the device, whatever its stream
	}
	w := maphash.String(in.seed, key) % uint64(len(l.queues))
	q := l.queues[w]
	if l.first != nil && in.opts.Pipeline.Alarming(topic) {
		q = l.first[w]
	}
	d := delivery{topic: topic, payload: payload, ack: ack}
	l.marks[w].take()
	select {
	case q <- d:
		return false, nil
	default:
	}
	var timeout <-chan time.Time
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case q <- d:
		return true, nil
	case <-in.stopping:
		err = ErrStopping
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = context.DeadlineExceeded
	}
	l.marks[w].pending.Add(-1)
	return true, err
}

// Run applies messages until ctx is cancelled. Then it takes no more: what
// is queued stays unacknowledged and comes again, the message being applied
// gives up retrying, and what was applied is acknowledged once stored, for
// at most ackGrace. Stop whoever submits first, and the rules' store after.
func (in *Intake) Run(ctx context.Context) error {
	var workers, acker sync.WaitGroup
	for li := range in.lanes {
		l := &in.lanes[li]
		for i, q := range l.queues {
			var first chan delivery
			if l.first != nil {
				first = l.first[i]
			}
			workers.Go(func() { in.work(withMark(ctx, &l.marks[i]), first, q) })
		}
	}
	stopAcks := make(chan struct{})
	acker.Go(func() { in.acknowledge(stopAcks) })
	<-ctx.Done()
	close(in.stopping)
	workers.Wait()
	close(stopAcks)
	acker.Wait()
	return nil
}

// work applies the messages of its queue q, and before them those of
// first (nil: none).
func (in *Intake) work(ctx context.Context, first, q chan delivery) {
	for {
		select {
		case d := <-first:
			in.process(ctx, d)
			continue
		default:
		}
		select {
		case d := <-first:
			in.process(ctx, d)
		case d := <-q:
			in.process(ctx, d)
		case <-ctx.Done():
			// Queued messages are not acknowledged: they come again.
			for {
				select {
				case <-first:
				case <-q:
				default:
					return
				}
				markFrom(ctx).pending.Add(-1)
			}
		}
	}
}

// ackGrace is how long a stopping intake waits for the store to take what
// was applied, so that it need not come again after the restart.
const ackGrace = 5 * time.Second

// acknowledge acknowledges handled messages in the order they were handled,
// each once what it changed is stored. Once stop closes (the workers have
// stopped) it acknowledges what is stored within ackGrace, and returns.
func (in *Intake) acknowledge(stop <-chan struct{}) {
	var grace <-chan time.Time // set once stopping
	for {
		if stop == nil && len(in.acks) == 0 {
			return
		}
		var p pendingAck
		select {
		case p = <-in.acks:
		case <-stop:
			grace, stop = time.After(ackGrace), nil
			continue
		case <-grace:
			return
		}
		select {
		case <-p.durable:
			in.ack(p)
		case <-stop:
			grace, stop = time.After(ackGrace), nil
			select {
			case <-p.durable:
				in.ack(p)
			case <-grace:
				return
			}
		case <-grace:
			return
		}
	}
}

// ack acknowledges a message that waited in acks.
func (in *Intake) ack(p pendingAck) {
	p.ack()
	if !in.opts.OneOrder {
		in.waited(p.topic)
	}
}

// waited counts a message of topic out of acks.
func (in *Intake) waited(topic string) {
	in.waiting.mu.Lock()
	defer in.waiting.mu.Unlock()
	if in.waiting.n[topic]--; in.waiting.n[topic] <= 0 {
		delete(in.waiting.n, topic)
	}
}

// enqueue acknowledges a handled message once what it changed is stored:
// at once if it is and no earlier message of its topic waits (messages of
// a topic are handled in turn, by one worker), unless OneOrder; else after
// those before it in acks. When ctx ends first it is left unacknowledged, to come again.
func (in *Intake) enqueue(ctx context.Context, d delivery, durable <-chan struct{}) {
	if !in.opts.OneOrder {
		stored := isClosed(durable)
		in.waiting.mu.Lock()
		if stored && in.waiting.n[d.topic] == 0 {
			in.waiting.mu.Unlock()
			d.ack()
			return
		}
		in.waiting.n[d.topic]++
		in.waiting.mu.Unlock()
	}
	select {
	case in.acks <- pendingAck{durable: durable, ack: d.ack, topic: d.topic}:
	case <-ctx.Done():
		if !in.opts.OneOrder {
			in.waited(d.topic)
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (in *Intake) process(ctx context.Context, d delivery) {
	acked := false
	defer in.done(ctx)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		// A bug, not the device's doing, but the same message would panic
		// again at every redelivery: it is dropped (acknowledged), and ingest
		// goes on with the next one.
		in.opts.Logger.Error("panic while handling a device message; message dropped",
			"topic", d.topic, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !acked {
			ackQuietly(d.ack)
		}
	}()
	durable, err := in.Handle(ctx, d.topic, d.payload)
	switch {
	case err != nil && ReasonOf(err) == "":
		// Not stored: left unacknowledged, it comes again.
		in.opts.Logger.Error("device message not handled; it stays unacknowledged", "topic", d.topic, "err", err)
	case err != nil:
		acked = true
		d.ack() // refused for good
	default:
		acked = true
		in.enqueue(ctx, d, durable)
	}
}

// done counts a message of the worker of ctx finished, and calls CaughtUp
// once the worker has none left.
func (in *Intake) done(ctx context.Context) {
	if markFrom(ctx).pending.Add(-1) == 0 && in.opts.CaughtUp != nil {
		in.opts.CaughtUp(ctx)
	}
}

// Handle applies one message, a device's or a clock tick, in the calling
// goroutine: what each worker does with what the broker hands it, and the
// entry of a simulation that drives the monitor in process. It returns once
// the message is applied and its tasks are stored; the channel closes once
// the rules' state it changed is stored too. A message refused for good
// returns a *RejectError and changes nothing.
func (in *Intake) Handle(ctx context.Context, topic string, payload []byte) (<-chan struct{}, error) {
	if topic == in.ClockTopic() {
		return in.tick(ctx, payload)
	}
	return in.opts.Pipeline.Ingest(ctx, topic, payload)
}

// ackQuietly acknowledges a message whose handling panicked; a panic of the
// acknowledgement itself is swallowed.
func ackQuietly(ack func()) {
	defer func() { _ = recover() }()
	ack()
}

// tick applies a simulator clock tick, or refuses it under the wall clock.
// A refused tick is a *RejectError: acknowledged, and that is all.
func (in *Intake) tick(ctx context.Context, payload []byte) (<-chan struct{}, error) {
	if in.opts.Tick == nil {
		err := errors.New("clock tick refused: the monitor runs on the wall clock (start it with --clock event)")
		in.ticks.log("wall_clock", in.ClockTopic(), err)
		return nil, &RejectError{Reason: "wall_clock", Err: err}
	}
	ts, err := DecodeTick(payload, in.opts.Pipeline.opts.Bound.Now())
	if err != nil {
		in.ticks.log(ReasonOf(err), in.ClockTopic(), err)
		return nil, err
	}
	record(ctx, ts, ts) // a tick moves the clock as far as it says
	return in.opts.Tick(ctx, ts)
}

package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultHoldTimeout is how long a publish may wait for room in the intake.
const DefaultHoldTimeout = 30 * time.Second

// Intake takes device messages in process (ingest's Intake).
type Intake interface {
	// Takes reports whether a topic is the intake's: device topics, the
	// simulator's clock, the readings of devices that speak their own
	// formats. Other publishes are routed as usual.
	Takes(topic string) bool
	// Submit hands a message over. It blocks while the intake has no room
	// (held reports that it did) until ctx ends or, when hold is positive,
	// it has waited hold (context.DeadlineExceeded), which leaves the
	// message untaken. ack is called once the message is handled: its
	// effect stored, or the message refused for good.
	Submit(ctx context.Context, topic string, payload []byte, ack func(), hold time.Duration) (held bool, err error)
}

// errMonitorBusy is why a device held past the hold timeout is disconnected.
var errMonitorBusy = errors.New("the monitor is not taking messages; publish again after reconnecting")

// inbound hands every publish the intake takes (under {prefix}/devices/,
// the simulator's clock ticks, source readings) to it inside the process, in the publisher's own read
// loop, and acknowledges it (PUBACK) only once the intake says it is handled.
// mochi would acknowledge a publish before routing it, so a crash between
// the two lost acknowledged messages; here the acknowledgement means stored.
// The message is not routed: nobody else subscribes to device topics.
//
// While the intake has no room the publisher's read loop waits, which slows
// that device down. A publish held past holdTimeout is refused without an
// acknowledgement and its device disconnected: the device keeps the message
// and sends it again when it reconnects.
type inbound struct {
	mqtt.HookBase
	intake      Intake
	holdTimeout time.Duration
	log         *slog.Logger
	// done ends every hold when the broker closes.
	done   context.Context
	cancel context.CancelFunc
	acks   pubacks

	held, refused prometheus.Counter
}

func newInbound(intake Intake, holdTimeout time.Duration, log *slog.Logger, reg prometheus.Registerer) *inbound {
	done, cancel := context.WithCancel(context.Background())
	h := &inbound{
		intake:      intake,
		holdTimeout: holdTimeout,
		log:         log,
		done:        done,
		cancel:      cancel,
		acks:        pubacks{pending: make(map[*mqtt.Client][]uint16), wake: make(chan struct{}, 1), stopped: make(chan struct{})},
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eldersafe_broker_publishes_held_total",
			Help: "Device publishes the embedded broker held until the monitor had room for them.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eldersafe_broker_publishes_refused_total",
			Help: "Device publishes held past the hold timeout: refused unacknowledged and the device disconnected, to send again.",
		}),
	}
	reg.MustRegister(h.held, h.refused)
	go h.acks.run(done)
	return h
}

func (h *inbound) ID() string { return "eldersafe-inbound" }

func (h *inbound) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnWill || b == mqtt.OnWillSent
}

// OnPublish runs on the publisher's connection, after the ACL check and
// before mochi would acknowledge and route the message.
func (h *inbound) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.intake.Takes(pk.TopicName) {
		return pk, nil
	}
	ack := func() {}
	if pk.FixedHeader.Qos > 0 {
		id := pk.PacketID
		ack = func() { h.acks.add(cl, id) }
	}
	if err := h.submit(cl, pk.TopicName, pk.Payload, ack); err != nil {
		cl.Stop(err)
	}
	return handedOver(pk), nil
}

// handedOver is pk as mochi is to finish it once the intake has it:
// acknowledged by the intake's ack, not by mochi (taken as QoS 0), neither
// retained nor routed (Ignore). Refusing it (packets.ErrRejectPacket) did
// the same, but mochi then logged it at debug level, and building that
// line's arguments copied the packet to the heap: 760 bytes a message, a
// third of what a message allocated (docs/performance.md, "Thirty-ninth
// round").
func handedOver(pk packets.Packet) packets.Packet {
	pk.FixedHeader.Qos, pk.Ignore = 0, true
	return pk
}

// OnWill keeps a device's Last Will from being retained: mochi would keep
// a retained one in memory for good, one for each device that ever went
// away, though the intake takes it (OnWillSent) and nobody else reads
// device topics.
func (h *inbound) OnWill(_ *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if h.intake.Takes(will.TopicName) {
		will.Retain = false
	}
	return will, nil
}

// OnWillSent hands over a device's Last Will (its status going offline),
// which mochi sends without passing it through OnPublish. The device is gone:
// there is nobody to acknowledge.
func (h *inbound) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if h.intake.Takes(pk.TopicName) {
		_ = h.submit(cl, pk.TopicName, pk.Payload, func() {})
	}
}

// submit waits up to holdTimeout for the intake to take the message. It
// returns why the device must be disconnected, if it must.
func (h *inbound) submit(cl *mqtt.Client, topic string, payload []byte, ack func()) error {
	held, err := h.intake.Submit(h.done, topic, payload, ack, h.holdTimeout)
	if held {
		h.held.Inc()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		h.refused.Inc()
		h.log.Warn("monitor not taking messages; device disconnected to publish again later",
			"device", cl.ID, "held", h.holdTimeout)
		return fmt.Errorf("held %s: %w", h.holdTimeout, errMonitorBusy)
	default:
		return fmt.Errorf("monitor stopping: %w", err)
	}
}

// close lets every held publisher go, unacknowledged, and stops sending
// acknowledgements.
func (h *inbound) close() {
	h.cancel()
	<-h.acks.stopped
}

// pubacks sends PUBACKs in batches: one write per device for every
// acknowledgement due to it, instead of a system call each. Ingest
// acknowledges a whole group commit's messages at once, so under load a
// device gets many at a time; when idle a batch is the one.
type pubacks struct {
	mu      sync.Mutex
	pending map[*mqtt.Client][]uint16
	wake    chan struct{} // capacity 1
	stopped chan struct{}
}

func (p *pubacks) add(cl *mqtt.Client, id uint16) {
	p.mu.Lock()
	p.pending[cl] = append(p.pending[cl], id)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run writes what is pending whenever something is, until done.
func (p *pubacks) run(done context.Context) {
	defer close(p.stopped)
	var buf bytes.Buffer
	for {
		select {
		case <-done.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		batch := p.pending
		p.pending = make(map[*mqtt.Client][]uint16, len(batch))
		p.mu.Unlock()
		for cl, ids := range batch {
			buf.Reset()
			write(cl, ids, &buf)
		}
	}
}

// write sends a device its PUBACKs in one write, under the client's lock as
// mochi's own writes are. A device gone by now sends its messages again.
func write(cl *mqtt.Client, ids []uint16, buf *bytes.Buffer) {
	if cl.Closed() || cl.Net.Conn == nil {
		return
	}
	for _, id := range ids {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id,
			ProtocolVersion: cl.Properties.ProtocolVersion}
		if err := pk.PubackEncode(buf); err != nil {
			return
		}
	}
	cl.Lock()
	defer cl.Unlock()
	_, _ = cl.Net.Conn.Write(buf.Bytes())
}

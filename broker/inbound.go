package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// (held reports that it did) until ctx ends, which leaves the message
	// untaken. ack is called once the message is handled: its effect
	// stored, or the message refused for good.
	Submit(ctx context.Context, topic string, payload []byte, ack func()) (held bool, err error)
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
	return h
}

func (h *inbound) ID() string { return "eldersafe-inbound" }

func (h *inbound) Provides(b byte) bool { return b == mqtt.OnPublish || b == mqtt.OnWillSent }

// OnPublish runs on the publisher's connection, after the ACL check and
// before mochi would acknowledge and route the message.
func (h *inbound) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.intake.Takes(pk.TopicName) {
		return pk, nil
	}
	ack := func() {}
	if pk.FixedHeader.Qos > 0 {
		id := pk.PacketID
		ack = func() {
			// The device may be gone by now: it sends the message again.
			_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id})
		}
	}
	if err := h.submit(cl, pk.TopicName, pk.Payload, ack); err != nil {
		cl.Stop(err)
	}
	return pk, packets.ErrRejectPacket // acknowledged by ack, routed nowhere
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
	ctx, cancel := context.WithTimeout(h.done, h.holdTimeout)
	defer cancel()
	held, err := h.intake.Submit(ctx, topic, payload, ack)
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

// close lets every held publisher go, unacknowledged.
func (h *inbound) close() { h.cancel() }

package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the back-pressure options.
const (
	DefaultMaxInflight = 8192
	DefaultHoldTimeout = 30 * time.Second
)

// recheckEvery bounds how long a held publisher sleeps between looks at the
// monitor's session when no acknowledgement wakes it.
const recheckEvery = 50 * time.Millisecond

// errMonitorBusy is why a device held past HoldTimeout is disconnected.
var errMonitorBusy = errors.New("the monitor is not taking messages; publish again after reconnecting")

// backpressure holds a device's publish, before the broker acknowledges it,
// while the monitor cannot take more: it is not connected and subscribed, or
// three quarters of the QoS 1 messages the broker may keep for it are
// unacknowledged. mochi acknowledges a publish to its sender before
// routing it, and drops what does not fit in the subscriber's session, so
// without this a monitor that falls behind loses acknowledged messages — a
// fall among them. Holding the publish stops the broker reading from that
// device's connection, which slows the device instead.
//
// Held publishers are admitted one at a time, so a burst of them cannot
// overshoot the session's limit together. A publish held past holdTimeout is
// refused without an acknowledgement and its device disconnected: the
// message stays with the device, which sends it again when it reconnects.
type backpressure struct {
	mqtt.HookBase
	monitorID   string
	clients     *mqtt.Clients
	high        int
	holdTimeout time.Duration
	log         *slog.Logger

	admit   chan struct{} // capacity 1: the publisher waiting for room
	room    chan struct{} // capacity 1: poked when the monitor acknowledges or subscribes
	done    chan struct{} // closed when the broker closes
	waiting atomic.Int32

	held, refused prometheus.Counter
}

func newBackpressure(monitorID string, clients *mqtt.Clients, maxInflight int, holdTimeout time.Duration, log *slog.Logger, reg prometheus.Registerer) *backpressure {
	h := &backpressure{
		monitorID:   monitorID,
		clients:     clients,
		high:        maxInflight * 3 / 4,
		holdTimeout: holdTimeout,
		log:         log,
		admit:       make(chan struct{}, 1),
		room:        make(chan struct{}, 1),
		done:        make(chan struct{}),
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

func (h *backpressure) ID() string { return "eldersafe-backpressure" }

func (h *backpressure) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnQosComplete || b == mqtt.OnSubscribed
}

// full reports whether the monitor cannot take another message: it is not
// connected and subscribed, or its session is full. While it is away nothing
// is queued for it: mochi routes a message that arrives as the monitor
// reconnects to the session being replaced, where it is lost.
func (h *backpressure) full() bool {
	m, ok := h.clients.Get(h.monitorID)
	return !ok || m.Closed() || m.State.Subscriptions.Len() == 0 || m.State.Inflight.Len() >= h.high
}

// OnPublish runs on the publisher's connection before the broker
// acknowledges and routes the message.
func (h *backpressure) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.ID == h.monitorID || cl.Net.Inline || !h.full() {
		return pk, nil
	}
	h.held.Inc()
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	deadline := time.NewTimer(h.holdTimeout)
	defer deadline.Stop()
	select {
	case h.admit <- struct{}{}:
		defer func() { <-h.admit }()
	case <-deadline.C:
		return h.refuse(cl, pk)
	case <-h.done:
		return pk, packets.ErrRejectPacket
	}
	recheck := time.NewTicker(recheckEvery)
	defer recheck.Stop()
	for h.full() {
		select {
		case <-h.room:
		case <-recheck.C:
		case <-deadline.C:
			return h.refuse(cl, pk)
		case <-h.done:
			return pk, packets.ErrRejectPacket
		}
	}
	return pk, nil
}

func (h *backpressure) refuse(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.refused.Inc()
	h.log.Warn("monitor not taking messages; device disconnected to publish again later",
		"device", cl.ID, "held", h.holdTimeout, "waiting", h.waiting.Load())
	cl.Stop(fmt.Errorf("held %s: %w", h.holdTimeout, errMonitorBusy))
	return pk, packets.ErrRejectPacket
}

// OnQosComplete runs when a client acknowledges a message; the monitor's
// acknowledgements make room.
func (h *backpressure) OnQosComplete(cl *mqtt.Client, _ packets.Packet) {
	if cl.ID == h.monitorID && h.waiting.Load() > 0 {
		h.poke()
	}
}

// OnSubscribed: a monitor that (re)subscribes can take messages again.
func (h *backpressure) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if cl.ID == h.monitorID {
		h.poke()
	}
}

func (h *backpressure) poke() {
	select {
	case h.room <- struct{}{}:
	default:
	}
}

func (h *backpressure) close() { close(h.done) }

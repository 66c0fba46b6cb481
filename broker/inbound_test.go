package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeIntake stands for ingest: it records what the broker hands it and
// acknowledges it at once, unless a test holds the acknowledgements or makes
// it full.
type fakeIntake struct {
	msgs chan inMsg
	// sourceTopics are the source readings it takes besides the device
	// topics and the clock.
	sourceTopics []string

	mu      sync.Mutex
	hold    bool
	held    []func()
	full    bool
	room    chan struct{} // closed when a full intake makes room
	waiting int           // publishers waiting for room
}

type inMsg struct{ topic, payload string }

func newFakeIntake() *fakeIntake {
	return &fakeIntake{msgs: make(chan inMsg, 1000), room: make(chan struct{})}
}

func (f *fakeIntake) Takes(topic string) bool {
	return strings.HasPrefix(topic, prefix+"/devices/") || topic == prefix+"/sim/clock" || slices.Contains(f.sourceTopics, topic)
}

func (f *fakeIntake) Submit(ctx context.Context, topic string, payload []byte, ack func(), hold time.Duration) (bool, error) {
	f.mu.Lock()
	full, room := f.full, f.room
	if full {
		f.waiting++
	}
	f.mu.Unlock()
	if full {
		defer func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.waiting--
		}()
		var timeout <-chan time.Time
		if hold > 0 {
			timeout = time.After(hold)
		}
		select {
		case <-room:
		case <-ctx.Done():
			return true, ctx.Err()
		case <-timeout:
			return true, context.DeadlineExceeded
		}
	}
	f.msgs <- inMsg{topic, string(payload)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold {
		f.held = append(f.held, ack)
	} else {
		ack()
	}
	return full, nil
}

// setFull makes the intake take nothing, or take again.
func (f *fakeIntake) setFull(full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full && !full {
		close(f.room)
		f.room = make(chan struct{})
	}
	f.full = full
}

// holdAcks holds acknowledgements back until release.
func (f *fakeIntake) holdAcks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = true
}

func (f *fakeIntake) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ack := range f.held {
		ack()
	}
	f.held, f.hold = nil, false
}

// expect checks that the next message handed over is topic/payload.
func (f *fakeIntake) expect(t *testing.T, topic, payload string) {
	t.Helper()
	select {
	case m := <-f.msgs:
		if m.topic != topic || m.payload != payload {
			t.Fatalf("got %s %q, want %s %q", m.topic, m.payload, topic, payload)
		}
	case <-time.After(timeout):
		t.Fatalf("nothing handed over, want %s %q", topic, payload)
	}
}

// until waits for cond, checking every few milliseconds.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func publishAll(c *client, device string, n int) []paho.Token {
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = c.Publish(prefix+"/devices/"+device+"/telemetry", 1, false, fmt.Sprintf("%s-%d", device, i))
	}
	return toks
}

func waitTokens(t *testing.T, toks []paho.Token) {
	t.Helper()
	for i, tok := range toks {
		if !tok.WaitTimeout(timeout) {
			t.Fatalf("publish %d: no PUBACK", i)
		}
		if err := tok.Error(); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// The PUBACK means stored: the device hears of its publish only once the
// intake has handled it.
func TestInbound_AcknowledgedOnlyOnceHandled(t *testing.T) {
	b := startBroker(t, nil)
	in := monitor(t, b)
	in.holdAcks()
	dev := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
	tok := dev.Publish(deviceTopic("dev-a", "event"), 1, false, "fall")
	in.expect(t, deviceTopic("dev-a", "event"), "fall")
	if tok.WaitTimeout(100 * time.Millisecond) {
		t.Fatal("PUBACK before the intake acknowledged the message")
	}
	in.release()
	waitTokens(t, []paho.Token{tok})
}

// What the intake takes goes nowhere else: not to a subscriber of device
// topics in the process, not kept as a retained message.
func TestInbound_HandedOverOnly(t *testing.T) {
	b := startBroker(t, nil)
	in := monitor(t, b)
	routed := make(chan string, 1)
	if err := b.srv.Subscribe(prefix+"/devices/#", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		routed <- pk.TopicName
	}); err != nil {
		t.Fatal(err)
	}
	dev := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
	waitTokens(t, []paho.Token{dev.Publish(deviceTopic("dev-a", "event"), 1, true, "fall")})
	in.expect(t, deviceTopic("dev-a", "event"), "fall")
	select {
	case topic := <-routed:
		t.Fatalf("%s routed to a subscriber", topic)
	case <-time.After(100 * time.Millisecond):
	}
	if kept := b.srv.Topics.Messages(prefix + "/devices/#"); len(kept) != 0 {
		t.Fatalf("retained: %+v", kept)
	}
}

// An intake with no room holds the publisher (its read loop) until it has,
// and one that takes nothing for the hold timeout makes the broker
// disconnect the device unacknowledged: it keeps the messages and sends them
// again once back.
func TestInbound_Held(t *testing.T) {
	t.Run("UntilRoom", func(t *testing.T) {
		b := startBroker(t, nil)
		in := monitor(t, b)
		in.setFull(true)
		a := mustDial(t, b.Addr(), clientID("dev"), "dev-a", "secret-a", nil)
		toks := publishAll(a, "dev-a", 3)
		until(t, "a publish held", func() bool { in.mu.Lock(); defer in.mu.Unlock(); return in.waiting > 0 })
		if toks[0].WaitTimeout(0) {
			t.Fatal("a held publish was acknowledged")
		}
		in.setFull(false)
		waitTokens(t, toks)
		if h := testutil.ToFloat64(b.inbound.held); h < 1 {
			t.Errorf("%v publishes counted held, want at least 1", h)
		}
		if r := testutil.ToFloat64(b.inbound.refused); r != 0 {
			t.Errorf("%v publishes refused", r)
		}
	})

	t.Run("TooLong", func(t *testing.T) {
		b := startBroker(t, func(o *Options) { o.HoldTimeout = 100 * time.Millisecond })
		in := monitor(t, b)
		in.setFull(true)
		a := mustDial(t, b.Addr(), clientID("dev"), "dev-a", "secret-a", func(o *paho.ClientOptions) {
			o.SetCleanSession(false).SetAutoReconnect(true).SetConnectRetryInterval(10 * time.Millisecond).SetMaxReconnectInterval(50 * time.Millisecond)
		})
		toks := publishAll(a, "dev-a", 10)
		until(t, "a device disconnected", func() bool { return testutil.ToFloat64(b.inbound.refused) > 0 })
		in.setFull(false)
		waitTokens(t, toks)
		got := map[string]bool{}
		for len(got) < 10 {
			select {
			case m := <-in.msgs:
				got[m.payload] = true
			case <-time.After(timeout):
				t.Fatalf("only %d of 10 messages handed over", len(got))
			}
		}
	})
}

package broker

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// slowMonitor is the monitor's session: persistent, acknowledging only what
// the test lets it.
type slowMonitor struct {
	*client
	inbox chan paho.Message
}

func dialMonitor(t *testing.T, b *Broker) *slowMonitor {
	t.Helper()
	m := &slowMonitor{inbox: make(chan paho.Message, 10000)}
	m.client = mustDial(t, b.Addr(), "mon", monUser, monPass, func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetAutoAckDisabled(true).
			SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { m.inbox <- msg })
	})
	if code := m.subscribe(t, prefix+"/devices/#"); code != 1 {
		t.Fatalf("monitor subscribe: code %#x", code)
	}
	return m
}

// drain acknowledges every message from now on and returns the distinct
// payloads received, on a channel closed when want of them have arrived.
func (m *slowMonitor) drain(t *testing.T, want int) <-chan struct{} {
	t.Helper()
	all := make(chan struct{})
	seen := map[string]bool{}
	go func() {
		for msg := range m.inbox {
			msg.Ack()
			seen[string(msg.Payload())] = true
			if len(seen) == want {
				close(all)
				return
			}
		}
	}()
	return all
}

func (b *Broker) dropped() int64 {
	return atomic.LoadInt64(&b.srv.Info.InflightDropped) + atomic.LoadInt64(&b.srv.Info.MessagesDropped)
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

func TestBackpressure(t *testing.T) {
	// More messages than the monitor's session may hold: the broker holds
	// the devices instead of dropping, and every message arrives once the
	// monitor acknowledges. Without the hold, mochi drops all but 32.
	t.Run("MonitorFallsBehind", func(t *testing.T) {
		b := startBroker(t, func(o *Options) { o.MonitorClientID = "mon"; o.MaxInflight = 32 })
		mon := dialMonitor(t, b)
		a := mustDial(t, b.Addr(), clientID("dev"), "dev-a", "secret-a", nil)
		bb := mustDial(t, b.Addr(), clientID("dev"), "dev-b", "secret-b", nil)
		toks := append(publishAll(a, "dev-a", 150), publishAll(bb, "dev-b", 150)...)

		until(t, "the monitor's session full", func() bool { return testutil.ToFloat64(b.backpressure.held) > 0 || b.dropped() > 0 })
		if n := len(mon.inbox); n > 32 {
			t.Errorf("the monitor has %d unacknowledged messages, more than its session's 32", n)
		}
		all := mon.drain(t, 300)
		select {
		case <-all:
		case <-time.After(timeout):
			t.Fatal("not every message reached the monitor")
		}
		waitTokens(t, toks)
		if d := b.dropped(); d != 0 {
			t.Errorf("broker dropped %d messages", d)
		}
		if r := testutil.ToFloat64(b.backpressure.refused); r != 0 {
			t.Errorf("%v publishes refused", r)
		}
	})

	// A device publishing while the monitor cannot take it — not yet
	// subscribed (as at start-up), or away (reconnecting, where mochi would
	// queue it in the session being replaced) — is held until the monitor is
	// back, not acknowledged and lost.
	for _, tc := range []struct {
		name    string
		monitor func(t *testing.T, b *Broker)
	}{
		{"MonitorNotYetSubscribed", func(*testing.T, *Broker) {}},
		{"MonitorAway", func(t *testing.T, b *Broker) {
			dialMonitor(t, b).Disconnect(0)
			until(t, "the monitor away", func() bool { cl, ok := b.srv.Clients.Get("mon"); return ok && cl.Closed() })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, func(o *Options) { o.MonitorClientID = "mon" })
			tc.monitor(t, b)
			a := mustDial(t, b.Addr(), clientID("dev"), "dev-a", "secret-a", nil)
			toks := publishAll(a, "dev-a", 3)
			until(t, "a publish held", func() bool { return testutil.ToFloat64(b.backpressure.held) > 0 })
			if toks[0].WaitTimeout(0) {
				t.Fatal("the publish was acknowledged with no monitor to deliver it to")
			}
			mon := dialMonitor(t, b)
			select {
			case <-mon.drain(t, 3):
			case <-time.After(timeout):
				t.Fatal("the held messages did not reach the monitor")
			}
			waitTokens(t, toks)
		})
	}

	// A monitor that takes nothing for the hold timeout: the device is
	// disconnected without an acknowledgement, keeps its message, and sends it
	// again after reconnecting, once the monitor is back.
	t.Run("HeldTooLong", func(t *testing.T) {
		b := startBroker(t, func(o *Options) {
			o.MonitorClientID = "mon"
			o.MaxInflight = 4
			o.HoldTimeout = 100 * time.Millisecond
		})
		mon := dialMonitor(t, b)
		a := mustDial(t, b.Addr(), clientID("dev"), "dev-a", "secret-a", func(o *paho.ClientOptions) {
			o.SetAutoReconnect(true).SetConnectRetryInterval(10 * time.Millisecond).SetMaxReconnectInterval(50 * time.Millisecond)
		})
		toks := publishAll(a, "dev-a", 10)
		until(t, "a device disconnected", func() bool { return testutil.ToFloat64(b.backpressure.refused) > 0 })
		select {
		case <-mon.drain(t, 10):
		case <-time.After(timeout):
			t.Fatal("the refused messages were not sent again")
		}
		waitTokens(t, toks)
		if d := b.dropped(); d != 0 {
			t.Errorf("broker dropped %d messages", d)
		}
	})
}

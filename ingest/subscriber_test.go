package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// fakeMessage is an MQTT message that records its acknowledgement.
type fakeMessage struct {
	topic   string
	payload []byte
	mu      sync.Mutex
	acks    int
}

func (m *fakeMessage) Duplicate() bool   { return false }
func (m *fakeMessage) Qos() byte         { return 1 }
func (m *fakeMessage) Retained() bool    { return false }
func (m *fakeMessage) Topic() string     { return m.topic }
func (m *fakeMessage) MessageID() uint16 { return 1 }
func (m *fakeMessage) Payload() []byte   { return m.payload }
func (m *fakeMessage) Ack() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks++
}

func (m *fakeMessage) acked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks
}

type oneDevice struct{}

func (oneDevice) Device(_ context.Context, id string) (registry.Device, error) {
	if id != "band-1" {
		return registry.Device{}, registry.ErrNotFound
	}
	return registry.Device{ID: id, Kind: registry.Wristband, HouseholdID: "h1"}, nil
}

// TestSubscriberSurvivesPanics: a message whose handling panics (a bug in
// the rules, the tasks, the store) is logged and dropped; ingest goes on.
func TestSubscriberSurvivesPanics(t *testing.T) {
	var logs bytes.Buffer
	var handled []string
	p, err := NewPipeline(PipelineOptions{
		Prefix:  "eldersafe/v1",
		Devices: oneDevice{},
		Handle: func(_ context.Context, r rules.Reading) error {
			if r.Event == "fall" {
				panic("boom: a bug in the rules")
			}
			handled = append(handled, r.Event)
			return nil
		},
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSubscriber(SubscriberOptions{
		URL: "tcp://127.0.0.1:1", ClientID: "test", Prefix: "eldersafe/v1", Pipeline: p,
		Tick:   func(time.Time) { panic("boom: a bug in the clock") },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	fall := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"fall"}`)}
	tick := &fakeMessage{topic: "eldersafe/v1/sim/clock", payload: []byte(`{"ts":"2025-06-01T11:00:00Z"}`)}
	sos := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:01:00Z","event":"sos"}`)}
	for _, m := range []*fakeMessage{fall, tick, sos} {
		s.process(context.Background(), m) // must not panic
		if m.acked() != 1 {
			t.Errorf("%s: acknowledged %d times, want 1 (a panicking message is dropped, not redelivered forever)", m.topic, m.acked())
		}
	}
	if len(handled) != 1 || handled[0] != "sos" {
		t.Errorf("handled %v, want the sos after the panics", handled)
	}
	if n := strings.Count(logs.String(), "panic while handling a device message"); n != 2 {
		t.Errorf("%d panics logged, want 2:\n%s", n, logs.String())
	}
}

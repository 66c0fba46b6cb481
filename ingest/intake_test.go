package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// fakeMessage is a broker's message that records its acknowledgement.
type fakeMessage struct {
	topic   string
	payload []byte
	mu      sync.Mutex
	acks    int
}

func (m *fakeMessage) delivery() delivery {
	return delivery{topic: m.topic, payload: m.payload, ack: m.ack}
}

// submit submits m, failing the test if it is not taken.
func (m *fakeMessage) submit(t *testing.T, in *Intake) {
	t.Helper()
	if _, err := in.Submit(context.Background(), m.topic, m.payload, m.ack, 0); err != nil {
		t.Fatalf("submit %s: %v", m.topic, err)
	}
}

// runIntake runs in until the test ends.
func runIntake(t *testing.T, in *Intake) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	t.Cleanup(func() { stop(); wg.Wait() })
}

func (m *fakeMessage) ack() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks++
}

func (m *fakeMessage) acked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks
}

type oneDevice struct{ noSources }

func (oneDevice) Device(_ context.Context, id string) (registry.Device, error) {
	if id != "band-1" {
		return registry.Device{}, registry.ErrNotFound
	}
	return registry.Device{ID: id, Kind: registry.Wristband, HouseholdID: "h1"}, nil
}

// TestIntakeSurvivesPanics: a message whose handling panics (a bug in
// the rules, the tasks, the store) is logged and dropped; ingest goes on.
func TestIntakeSurvivesPanics(t *testing.T) {
	var logs bytes.Buffer
	var handled []string
	p, err := NewPipeline(PipelineOptions{
		Prefix:  "eldersafe/v1",
		Devices: oneDevice{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			if r.Event == "fall" {
				panic("boom: a bug in the rules")
			}
			handled = append(handled, r.Event)
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewIntake(IntakeOptions{
		Prefix: "eldersafe/v1", Pipeline: p,
		Tick:   func(context.Context, time.Time) (<-chan struct{}, error) { panic("boom: a bug in the clock") },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	fall := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"fall"}`)}
	tick := &fakeMessage{topic: "eldersafe/v1/sim/clock", payload: []byte(`{"ts":"2025-06-01T11:00:00Z"}`)}
	sos := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:01:00Z","event":"sos"}`)}
	ctx := withMark(context.Background(), &s.lanes[laneEvents].marks[0])
	for _, m := range []*fakeMessage{fall, tick, sos} {
		s.process(ctx, m.delivery()) // must not panic; the sos is stored at once
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

// stored is a durable channel for what is stored at once.
func stored() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

type anyBand struct{ noSources }

// noDevices is a registry with no device: a test's devices are in the
// pipeline's cache.
type noDevices struct{ noSources }

func (noDevices) Device(context.Context, string) (registry.Device, error) {
	return registry.Device{}, registry.ErrNotFound
}

func (anyBand) Device(_ context.Context, id string) (registry.Device, error) {
	return registry.Device{ID: id, Kind: registry.Wristband, HouseholdID: "h-" + id}, nil
}

// TestWatermarkHoldsBackToTheSlowestWorker: while one worker still applies a
// message of 11:00, another moving on to 14:00 does not let deadlines fire
// past 11:00; once every worker is done nothing holds them back.
func TestWatermarkHoldsBackToTheSlowestWorker(t *testing.T) {
	release := make(chan struct{})
	started := make(chan string, 4)
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: anyBand{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			started <- r.DeviceID
			if r.DeviceID == "band-slow" {
				<-release
			}
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, bounded := s.Watermark(); bounded {
		t.Fatal("an idle intake holds the clock back")
	}
	// Find a fast device on another worker than the slow one.
	telemetry := &s.lanes[laneTelemetry]
	worker := func(id string) int {
		return int(maphash.String(s.seed, "eldersafe/v1/devices/"+id) % uint64(len(telemetry.queues)))
	}
	fast := "band-0"
	for i := 1; worker(fast) == worker("band-slow"); i++ {
		fast = fmt.Sprintf("band-%d", i)
	}
	runIntake(t, s)

	msg := func(id, ts string) *fakeMessage {
		return &fakeMessage{topic: "eldersafe/v1/devices/" + id + "/telemetry", payload: []byte(`{"ts":"` + ts + `","battery_pct":80}`)}
	}
	msg("band-slow", "2025-06-01T11:00:00Z").submit(t, s)
	if id := <-started; id != "band-slow" {
		t.Fatalf("started %s", id)
	}
	fastDone := msg(fast, "2025-06-01T14:00:00Z")
	fastDone.submit(t, s)
	<-started
	for fastDone.acked() == 0 {
		time.Sleep(time.Millisecond)
	}
	wm, bounded := s.Watermark()
	if want := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC); !bounded || !wm.Equal(want) {
		t.Fatalf("watermark %v (bounded %v) while the slow worker is at 11:00, want %v", wm, bounded, want)
	}
	close(release)
	for {
		if _, bounded := s.Watermark(); !bounded {
			break
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatermarkIdleWorkerStartsAtTheLanesNewest: a worker given a message
// after an idle spell holds deadlines back no further than the newest event
// time its lane has applied, not to its own last message, hours old.
func TestWatermarkIdleWorkerStartsAtTheLanesNewest(t *testing.T) {
	s, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: &Pipeline{}, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	telemetry := &s.lanes[laneTelemetry]
	worker := func(id string) int {
		return int(maphash.String(s.seed, "eldersafe/v1/devices/"+id) % uint64(len(telemetry.queues)))
	}
	quiet, busy := "door-0", "pir-0"
	for i := 1; worker(quiet) == worker(busy); i++ {
		busy = fmt.Sprintf("pir-%d", i)
	}
	at := func(hour int) time.Time { return time.Date(2025, 6, 1, hour, 0, 0, 0, time.UTC) }
	// The workers' last messages, as the pipeline records them: the quiet
	// one's door at 08:00; the busy one's motion when the clock was at
	// 14:00, from a PIR whose clock runs a day fast. Neither has work.
	record(withMark(t.Context(), &telemetry.marks[worker(quiet)]), at(8), at(8))
	record(withMark(t.Context(), &telemetry.marks[worker(busy)]), at(14).Add(24*time.Hour), at(14))
	if _, bounded := s.Watermark(); bounded {
		t.Fatal("workers without work hold the clock back")
	}
	// No worker runs: the door's next message stays queued.
	(&fakeMessage{topic: "eldersafe/v1/devices/" + quiet + "/telemetry", payload: []byte(`{"ts":"2025-06-01T14:01:00Z"}`)}).submit(t, s)
	if wm, bounded := s.Watermark(); !bounded || !wm.Equal(at(14)) {
		t.Fatalf("watermark %v (bounded %v) with the door's message queued, want %v: the lane applied 14:00 (and a fast clock's tomorrow, which does not count), so nothing older is queued", wm, bounded, at(14))
	}
}

// TestIntakeCaughtUp: a worker calls CaughtUp once it has applied all it
// was given, not between two messages of its queue.
func TestIntakeCaughtUp(t *testing.T) {
	release := make(chan struct{})
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: anyBand{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			if r.BatteryPct != nil && *r.BatteryPct == 80 {
				<-release
			}
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	caught := make(chan struct{}, 4)
	s, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, Workers: 1,
		CaughtUp: func(context.Context) { caught <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	runIntake(t, s)
	first := &fakeMessage{topic: "eldersafe/v1/devices/band-1/telemetry", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","battery_pct":80}`)}
	second := &fakeMessage{topic: "eldersafe/v1/devices/band-1/telemetry", payload: []byte(`{"ts":"2025-06-01T11:01:00Z","battery_pct":79}`)}
	first.submit(t, s)
	second.submit(t, s)
	close(release)
	select {
	case <-caught:
	case <-time.After(10 * time.Second):
		t.Fatal("CaughtUp not called once the worker applied both messages")
	}
	select {
	case <-caught:
		t.Fatal("CaughtUp called between the two messages of one queue")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestIntakeAcknowledgesOnceStored: a handled message is acknowledged when
// what it changed is stored, not before; one whose handling failed never is.
func TestIntakeAcknowledgesOnceStored(t *testing.T) {
	durable := make(chan struct{})
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: anyBand{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			if r.Event == "sos" {
				return nil, errors.New("database or disk is full")
			}
			return durable, nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p})
	if err != nil {
		t.Fatal(err)
	}
	runIntake(t, in)

	fall := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"fall"}`)}
	sos := &fakeMessage{topic: "eldersafe/v1/devices/band-2/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"sos"}`)}
	fall.submit(t, in)
	sos.submit(t, in)
	time.Sleep(50 * time.Millisecond) // a wrong acknowledgement would have come by now
	if fall.acked() != 0 {
		t.Fatal("acknowledged before what it changed was stored")
	}
	close(durable)
	for deadline := time.Now().Add(5 * time.Second); fall.acked() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not acknowledged once stored")
		}
	}
	if sos.acked() != 0 {
		t.Error("a message whose handling failed was acknowledged")
	}
}

// TestIntakeAcknowledgesEachDeviceInOrder: a message stored once handled
// (an alarm written on its own) is acknowledged without waiting for other
// devices' commits, but never before an earlier message of its own device;
// with OneOrder (an external broker's sessions), after every message
// handled before it.
func TestIntakeAcknowledgesEachDeviceInOrder(t *testing.T) {
	for _, oneOrder := range []bool{false, true} {
		t.Run(fmt.Sprintf("OneOrder=%t", oneOrder), func(t *testing.T) {
			commit := make(chan struct{})
			p, err := NewPipeline(PipelineOptions{
				Prefix: "eldersafe/v1", Devices: anyBand{},
				Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
					if r.Event == "sos" {
						return commit, nil // waits for the group commit
					}
					return stored(), nil
				},
				Bound: clock.Func(func() time.Time { return testNow }),
			})
			if err != nil {
				t.Fatal(err)
			}
			in, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, EventWorkers: 1, OneOrder: oneOrder})
			if err != nil {
				t.Fatal(err)
			}
			runIntake(t, in)
			waits := &fakeMessage{topic: "eldersafe/v1/devices/band-2/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"sos"}`)}
			fall := &fakeMessage{topic: "eldersafe/v1/devices/band-1/event", payload: []byte(`{"ts":"2025-06-01T11:00:01Z","event":"fall"}`)}
			behind := &fakeMessage{topic: "eldersafe/v1/devices/band-2/event", payload: []byte(`{"ts":"2025-06-01T11:00:02Z","event":"fall"}`)}
			for _, m := range []*fakeMessage{waits, fall, behind} {
				m.submit(t, in)
			}
			if !oneOrder {
				for deadline := time.Now().Add(5 * time.Second); fall.acked() == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("a stored fall waits for another device's commit")
					}
				}
			}
			time.Sleep(50 * time.Millisecond) // a wrong acknowledgement would have come by now
			if waits.acked() != 0 || behind.acked() != 0 {
				t.Fatalf("band-2 acknowledged %d and %d times before its first message was stored, want 0 and 0", waits.acked(), behind.acked())
			}
			if oneOrder && fall.acked() != 0 {
				t.Fatal("acknowledged before a message handled earlier, in one order")
			}
			close(commit)
			for deadline := time.Now().Add(5 * time.Second); waits.acked() == 0 || behind.acked() == 0 || fall.acked() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("not acknowledged once stored")
				}
			}
		})
	}
}

// TestIntakeAlarmLane: a fall is applied while every telemetry worker is
// stuck behind a backlog.
func TestIntakeAlarmLane(t *testing.T) {
	release := make(chan struct{})
	falls := make(chan string, 1)
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: anyBand{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			if r.Stream == rules.Event {
				falls <- r.DeviceID
				return stored(), nil
			}
			<-release
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, Workers: 2, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	runIntake(t, in)
	t.Cleanup(func() { close(release) }) // first: the workers wait on it
	// Fill the telemetry workers and their queues, until the lane holds
	// further telemetry back.
	// The broker's hold timeout bounds the wait of the first held back.
	for i := 0; ; i++ {
		held, err := in.Submit(context.Background(), fmt.Sprintf("eldersafe/v1/devices/meter-%d/telemetry", i),
			[]byte(`{"ts":"2025-06-01T11:00:00Z","battery_pct":80}`), func() {}, 20*time.Millisecond)
		if err != nil {
			if !held || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("telemetry held back: held %v, %v; want held, %v", held, err, context.DeadlineExceeded)
			}
			break
		}
	}
	fall := &fakeMessage{topic: "eldersafe/v1/devices/band-9/event", payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"fall"}`)}
	fall.submit(t, in)
	select {
	case id := <-falls:
		if id != "band-9" {
			t.Fatalf("applied %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fall waited behind telemetry")
	}
}

// TestIntakeWristbandFirst: at the alarm lane's worker a wristband's fall
// goes before the motion events queued ahead of it; each device's own
// messages keep their order.
func TestIntakeWristbandFirst(t *testing.T) {
	release := make(chan struct{})
	applied := make(chan string, 8)
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: noDevices{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			applied <- r.DeviceID
			if r.DeviceID == "pir-0" {
				<-release
			}
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Remember(registry.Device{ID: "band-1", Kind: registry.Wristband, HouseholdID: "h1"})
	for i := range 4 {
		p.Remember(registry.Device{ID: fmt.Sprintf("pir-%d", i), Kind: registry.MotionSensor, HouseholdID: "h1"})
	}
	in, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, EventWorkers: 1, QueueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	runIntake(t, in)
	motion := func(pir int) *fakeMessage {
		return &fakeMessage{topic: fmt.Sprintf("eldersafe/v1/devices/pir-%d/event", pir),
			payload: []byte(`{"ts":"2025-06-01T11:00:00Z","motion":true}`)}
	}
	motion(0).submit(t, in)
	got := []string{<-applied} // the worker is busy with pir-0's message
	for pir := 1; pir < 4; pir++ {
		motion(pir).submit(t, in)
	}
	for _, ev := range []string{"fall", "sos"} {
		(&fakeMessage{topic: "eldersafe/v1/devices/band-1/event",
			payload: []byte(`{"ts":"2025-06-01T11:00:00Z","event":"` + ev + `"}`)}).submit(t, in)
	}
	close(release)
	want := []string{"pir-0", "band-1", "band-1", "pir-1", "pir-2", "pir-3"}
	timeout := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case id := <-applied:
			got = append(got, id)
		case <-timeout:
			t.Fatalf("applied %v after 5 s, want %v", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

func TestPipelineAlarming(t *testing.T) {
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: noDevices{}, Sources: testSources,
		Handle: func(context.Context, rules.Reading) (<-chan struct{}, error) { return stored(), nil },
		Bound:  clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Remember(registry.Device{ID: "band-1", Kind: registry.Wristband, HouseholdID: "h1"})
	p.Remember(registry.Device{ID: "pir-1", Kind: registry.MotionSensor, HouseholdID: "h1"})
	p.Remember(registry.Device{ID: "zb-sos", Kind: registry.Wristband, HouseholdID: "h1",
		Source: registry.SourceZigbee2MQTT, SourceTopic: "sos button"})
	p.Remember(registry.Device{ID: "zb-pir", Kind: registry.MotionSensor, HouseholdID: "h1",
		Source: registry.SourceZigbee2MQTT, SourceTopic: "hall pir"})
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		{"eldersafe/v1/devices/band-1/event", true},
		{"eldersafe/v1/devices/pir-1/event", false},
		{"eldersafe/v1/devices/band-2/event", false}, // not cached: looked up by its worker
		{"eldersafe/v1/devices/band-1", false},
		{"zigbee2mqtt/sos button", true},
		{"zigbee2mqtt/hall pir", false},
		{"zigbee2mqtt/unknown", false},
	} {
		if got := p.Alarming(tc.topic); got != tc.want {
			t.Errorf("Alarming(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

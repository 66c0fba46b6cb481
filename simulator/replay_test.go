package simulator

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// dev is a registered device, as replay knows it.
type dev struct {
	kind      registry.DeviceKind
	household string
}

// replay runs a world's messages through the monitor's own decoder and rules
// engine in process, the way the monitor would under the event clock with a
// tick every simulated minute, and returns the alerts that fired. It checks
// routines quickly, without a broker; the library tests run the real server.
func replay(t *testing.T, w *World) []rules.Alert {
	t.Helper()
	loc := w.sc.Location
	engine, err := rules.NewEngine(rules.DefaultConfig(), loc)
	if err != nil {
		t.Fatal(err)
	}
	reg := newReplayRegistry(w)
	for _, h := range w.Neighbourhood().Households {
		if err := engine.SetHousehold(h.FullID, rules.Settings{Location: loc}); err != nil {
			t.Fatal(err)
		}
		for _, d := range h.Devices {
			engine.ExpectDevice(h.FullID, rules.SavedDevice{ID: d.ID, Kind: registry.DeviceKind(d.Kind)}, w.Start())
		}
	}
	var (
		dedup  ingest.Dedup
		alerts []rules.Alert
		away   = map[string][]rules.Period{}
		now    = w.Start()
		tick   = now.Add(time.Minute)
	)
	advance := func(to time.Time) {
		for !tick.After(to) {
			alerts = append(alerts, engine.Advance(tick)...)
			now = maxTime(now, tick)
			tick = tick.Add(time.Minute)
		}
	}
	for {
		m, ok := w.Next()
		if !ok {
			break
		}
		advance(m.At.Add(-time.Second))
		if m.Away != nil {
			away[m.Away.HouseholdID] = append(away[m.Away.HouseholdID], rules.Period{From: m.Away.From, Until: m.Away.Until})
			if err := engine.SetHousehold(m.Away.HouseholdID, rules.Settings{Location: loc, Away: away[m.Away.HouseholdID]}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		msg, id, err := reg.decode(t, m, now)
		if err != nil {
			continue
		}
		d := reg.devices[id]
		if msg.HasSeq && dedup.Duplicate(id, msg.Seq, msg.Reading) {
			continue
		}
		r := msg.Reading
		r.DeviceID, r.HouseholdID = id, d.household
		now = maxTime(now, r.TS)
		alerts = append(alerts, engine.Process(r)...)
		alerts = append(alerts, engine.Advance(now)...)
		if msg.HasSeq {
			dedup.Record(id, msg.Seq, r)
		}
	}
	if end := w.End(); !end.IsZero() {
		advance(end)
	}
	fired := alerts[:0]
	for _, a := range alerts {
		if !a.Cleared {
			fired = append(fired, a)
		}
	}
	return fired
}

// replaySources are the sources as the simulator speaks them.
var replaySources = ingest.Sources{Zigbee2MQTT: Zigbee2MQTTRoot, Tasmota: TasmotaRoot, Wmbusmeters: WmbusmetersRoot}

// replayRegistry is a world's devices, as the monitor registers them.
type replayRegistry struct {
	devices  map[string]dev
	bySource map[[2]string]string // device ids by source and source topic
	loc      *time.Location
}

func newReplayRegistry(w *World) *replayRegistry {
	r := &replayRegistry{devices: map[string]dev{}, bySource: map[[2]string]string{}, loc: w.sc.Location}
	for _, h := range w.Neighbourhood().Households {
		for _, d := range h.Devices {
			r.devices[d.ID] = dev{registry.DeviceKind(d.Kind), h.FullID}
			if d.Source != "" {
				r.bySource[[2]string{string(d.Source), d.SourceTopic}] = d.ID
			}
		}
	}
	return r
}

// decode decodes a device message as the monitor's pipeline does: in
// eldersafe's format, or in its source's from the device registered on the
// topic. It fails the test for a message of a device nobody registered.
func (r *replayRegistry) decode(t *testing.T, m Message, now time.Time) (ingest.Message, string, error) {
	t.Helper()
	var (
		id     string
		stream rules.Stream
		src    registry.Source
	)
	if st, ok := replaySources.Parse(m.Topic); ok {
		id, src = r.bySource[[2]string{string(st.Source), st.Name}], st.Source
		if id == "" {
			t.Fatalf("message on %s, where no device is registered", m.Topic)
		}
	} else {
		var err error
		if id, stream, err = ingest.ParseTopic("eldersafe/v1", m.Topic); err != nil {
			return ingest.Message{}, "", err
		}
	}
	d, ok := r.devices[id]
	if !ok {
		t.Fatalf("message from unknown device %s", id)
	}
	if src != "" {
		msg, err := ingest.DecodeSource(src, d.kind, m.Payload, r.loc, now)
		return msg, id, err
	}
	msg, err := ingest.Decode(d.kind, stream, m.Payload, now)
	return msg, id, err
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestRoutinesOpenNothing(t *testing.T) {
	days, households := 14, 30
	if testing.Short() || raceDetector {
		days, households = 7, 10
	}
	for _, p := range Profiles {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			sc := NewScenario(households)
			sc.Profiles = []string{p.Name}
			sc.Duration = time.Duration(days) * 24 * time.Hour
			w, err := NewWorld(sc, "eldersafe/v1", "")
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range replay(t, w) {
				t.Errorf("%s %s at %s: %s", a.HouseholdID, a.Rule, a.At.In(sc.Location).Format("Mon 01-02 15:04"), a.Evidence.Summary)
			}
		})
	}
}

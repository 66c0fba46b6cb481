package ingest

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// y2000 is the earliest ts accepted (clock.ParseTS).
var y2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Fuzzed kinds and streams, each with one that is not in the contract.
var (
	fuzzKinds   = append(slices.Clone(registry.DeviceKinds), "toaster")
	fuzzStreams = []rules.Stream{rules.Telemetry, rules.Event, rules.Status, "config"}
)

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(uint8(slices.Index(fuzzKinds, tc.kind)), uint8(slices.Index(fuzzStreams, tc.stream)), []byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, kindIdx, streamIdx uint8, payload []byte) {
		kind := fuzzKinds[int(kindIdx)%len(fuzzKinds)]
		stream := fuzzStreams[int(streamIdx)%len(fuzzStreams)]
		m, err := Decode(kind, stream, payload, testNow)
		if err != nil {
			if !slices.Contains(Reasons, ReasonOf(err)) {
				t.Fatalf("rejection without a known reason: %v", err)
			}
			return
		}
		r := m.Reading
		if len(payload) > MaxPayload || !utf8.Valid(payload) || !json.Valid(payload) {
			t.Fatalf("accepted a payload that is too large or not valid JSON: %q", payload)
		}
		if r.TS.IsZero() || r.TS.Before(y2000) || r.TS.After(testNow.Add(clock.MaxFuture)) || r.TS.Location() != time.UTC {
			t.Fatalf("accepted ts %v out of bounds", r.TS)
		}
		if (r.Event == rules.EventOK) != (r.CheckID != "") || len(r.CheckID) > 64 {
			t.Fatalf("accepted event %q with check_id %q", r.Event, r.CheckID)
		}
		if r.Kind != kind || r.Stream != stream || r.DeviceID != "" || r.HouseholdID != "" {
			t.Fatalf("accepted reading %+v does not match %s %s", r, kind, stream)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	for _, tc := range topicCases {
		f.Add(tc.prefix, tc.topic)
	}
	f.Fuzz(func(t *testing.T, prefix, topic string) {
		id, stream, err := ParseTopic(prefix, topic)
		if err != nil {
			if ReasonOf(err) != ReasonBadTopic {
				t.Fatalf("rejection with reason %q, want bad_topic: %v", ReasonOf(err), err)
			}
			return
		}
		if registry.ValidateID("device id", id) != nil {
			t.Fatalf("accepted device id %q", id)
		}
		if stream != rules.Telemetry && stream != rules.Event && stream != rules.Status {
			t.Fatalf("accepted stream %q", stream)
		}
		if want := prefix + "/devices/" + id + "/" + string(stream); topic != want {
			t.Fatalf("ParseTopic(%q, %q) = %q %q, which does not rebuild the topic", prefix, topic, id, stream)
		}
	})
}

func FuzzDecodeTick(f *testing.F) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, seed := range []string{`{"ts":"2026-03-01T08:00:00+08:00"}`, `{"ts":1772323200000}`, `{}`, `null`, `[]`, `{"ts":true}`, `{"ts":"2099-01-01T00:00:00Z"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ts, err := DecodeTick(payload, now)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		if ts.Before(y2000) || ts.After(now.Add(clock.MaxFuture)) || ts.Location() != time.UTC {
			t.Fatalf("accepted tick %v out of bounds", ts)
		}
	})
}

// fuzzSources are the sources DecodeSource is fuzzed with, and one it does
// not know.
var fuzzSources = append(slices.Clone(registry.Sources), "homie")

// FuzzDecodeSource: whatever a gateway or a plug sends, decoding does not
// panic, and what it accepts is a reading the rules can take: a kind the
// source reports for, a bounded UTC ts, an event only on the event stream,
// finite numbers in range.
func FuzzDecodeSource(f *testing.F) {
	for _, tc := range sourceCases {
		f.Add(uint8(slices.Index(fuzzSources, tc.src)), uint8(slices.Index(fuzzKinds, tc.kind)), tc.data(f))
	}
	f.Fuzz(func(t *testing.T, srcIdx, kindIdx uint8, payload []byte) {
		src := fuzzSources[int(srcIdx)%len(fuzzSources)]
		kind := fuzzKinds[int(kindIdx)%len(fuzzKinds)]
		m, err := DecodeSource(src, kind, payload, shanghai, testNow)
		if err != nil {
			if !slices.Contains(Reasons, ReasonOf(err)) {
				t.Fatalf("rejection without a known reason: %v", err)
			}
			return
		}
		r := m.Reading
		if len(payload) > MaxPayload || !utf8.Valid(payload) || !json.Valid(payload) {
			t.Fatalf("accepted a payload that is too large or not valid JSON: %q", payload)
		}
		if !slices.Contains(src.Kinds(), kind) || r.Kind != kind || r.DeviceID != "" || !m.HasSeq {
			t.Fatalf("%s accepted %+v from a %s", src, r, kind)
		}
		if r.TS.Before(y2000) || r.TS.After(testNow.Add(clock.MaxFuture)) || r.TS.Location() != time.UTC {
			t.Fatalf("accepted ts %v out of bounds", r.TS)
		}
		event := r.Motion != nil || r.Open != nil || r.Event != ""
		if event != (r.Stream == rules.Event) || r.Stream != rules.Event && r.Stream != rules.Telemetry || r.Event != "" && r.Event != rules.EventSOS {
			t.Fatalf("accepted %s reading %+v", r.Stream, r)
		}
		for _, v := range []*float64{r.TotalLiters, r.TotalKWh, r.PowerW, r.BatteryPct} {
			if v != nil && (math.IsInf(*v, 0) || math.IsNaN(*v)) {
				t.Fatalf("accepted a number that is not finite: %+v", r)
			}
		}
		if r.BatteryPct != nil && (*r.BatteryPct < 0 || *r.BatteryPct > 100) ||
			r.TotalLiters != nil && *r.TotalLiters < 0 || r.TotalKWh != nil && *r.TotalKWh < 0 {
			t.Fatalf("accepted a value out of range: %+v", r)
		}
	})
}

// FuzzSourcesParse: whatever topic arrives under a source's root, parsing
// does not panic; a topic it takes names a device (or is a bridge's) and is
// built back from it; and the embedded broker's rule agrees with the ACL
// lines exported for Mosquitto: the topic is among the publish filters of
// the device it names (or of every gateway) exactly when that device (or a
// gateway) may publish to it.
func FuzzSourcesParse(f *testing.F) {
	for _, tc := range sourceTopicCases {
		f.Add(tc.topic)
	}
	s := testSources
	f.Fuzz(func(t *testing.T, topic string) {
		st, ok := s.Parse(topic)
		if !ok {
			if s.Reading(topic) || s.Alarm(topic) {
				t.Fatalf("%q: not parsed, yet a reading", topic)
			}
			return
		}
		if (st.role == roleBridge) != (st.Name == "") {
			t.Fatalf("%q: role %d with name %q", topic, st.role, st.Name)
		}
		if st.role == roleReading {
			root := map[registry.Source]string{z2m: s.Zigbee2MQTT, tasmo: s.Tasmota, wmbus: s.Wmbusmeters}[st.Source]
			want := root + "/" + st.Name
			if st.Source == tasmo {
				want += "/SENSOR"
			}
			if topic != want {
				t.Fatalf("%q parsed as %s %q, which builds %q", topic, st.Source, st.Name, want)
			}
		}
		if st.role == roleBridge {
			if !matchesAny(s.GatewayFilters(), topic) {
				t.Fatalf("%q: a bridge topic no gateway filter matches", topic)
			}
			return
		}
		if registry.ValidateSourceTopic(st.Source, st.Name) != nil {
			return // no device can be registered on it
		}
		d := registry.Device{Source: st.Source, SourceTopic: st.Name}
		mayPublish := st.role == roleReading || st.role == roleDevice
		if got := matchesAny(s.PublishFilters(d), topic); got != mayPublish {
			t.Fatalf("%q (%s %q, role %d): publish filters %v match: %t, want %t", topic, st.Source, st.Name, st.role, s.PublishFilters(d), got, mayPublish)
		}
	})
}

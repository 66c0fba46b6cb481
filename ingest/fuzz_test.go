package ingest

import (
	"encoding/json"
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

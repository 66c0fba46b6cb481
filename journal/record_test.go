package journal

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// testReadings covers every field set, none set, a zero TS, unicode, and
// times that Unix nanoseconds could not hold.
var testReadings = []struct {
	name    string
	reading rules.Reading
}{
	{"every field", rules.Reading{
		DeviceID: "wb-1", HouseholdID: "hh-1", Kind: registry.Wristband, Stream: rules.Telemetry,
		TS:          time.Date(2026, 3, 1, 7, 30, 15, 123456789, time.UTC),
		TotalLiters: ptr(1234.5), FlowLPM: ptr(0.0), Motion: ptr(true), Room: "kitchen", Open: ptr(false),
		Event: rules.EventOK, CheckID: "check-9", Lat: ptr(52.520008), Lon: ptr(-13.404954), AccuracyM: ptr(4.5),
		BatteryPct: ptr(87.0), Worn: ptr(true), HeartRate: ptr(71.0), TotalKWh: ptr(9876.25), PowerW: ptr(-350.0),
		Online: ptr(true),
	}},
	{"none set", rules.Reading{}},
	{"zero ts", rules.Reading{DeviceID: "d", HouseholdID: "h", Kind: registry.DoorSensor, Stream: rules.Event, Open: ptr(true)}},
	{"unicode", rules.Reading{
		DeviceID: "Bewegungsmelder-Küche-🚪", HouseholdID: "家庭-七", Kind: registry.MotionSensor, Stream: rules.Event,
		Room: "salle de séjour ☕", TS: time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC), Motion: ptr(false),
	}},
	{"before 1970", rules.Reading{DeviceID: "d", TS: time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC)}},
	{"year 9999", rules.Reading{DeviceID: "d", TS: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
	{"odd floats", rules.Reading{PowerW: ptr(math.Inf(-1)), TotalKWh: ptr(math.MaxFloat64), HeartRate: ptr(math.SmallestNonzeroFloat64)}},
	{"long string", rules.Reading{CheckID: strings.Repeat("x", 300)}},
}

func ptr[T any](v T) *T { return &v }

// encodeRecords is a block of records.
func encodeRecords(records []record) []byte {
	var b []byte
	for _, rec := range records {
		b = appendRecord(b, rec.seq, &rec.reading)
	}
	return b
}

func TestRecordRoundTrip(t *testing.T) {
	for i, tc := range testReadings {
		t.Run(tc.name, func(t *testing.T) {
			seq := uint64(i*1000 + 1)
			got, err := decodeBlock(appendRecord(nil, seq, &tc.reading), seq-1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].seq != seq {
				t.Fatalf("decoded %d records, first seq %v; want one, seq %d", len(got), got, seq)
			}
			if !reflect.DeepEqual(got[0].reading, tc.reading) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got[0].reading, tc.reading)
			}
		})
	}
}

func TestRecordTSInUTC(t *testing.T) {
	ts := time.Date(2026, 5, 1, 9, 0, 0, 5, time.FixedZone("CEST", 2*60*60))
	got, err := decodeBlock(appendRecord(nil, 1, &rules.Reading{TS: ts}), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].reading.TS.Equal(ts) || got[0].reading.TS.Location() != time.UTC {
		t.Fatalf("TS %v, want %v in UTC", got[0].reading.TS, ts)
	}
}

func TestDecodeBlockRejects(t *testing.T) {
	valid := appendRecord(nil, 5, &testReadings[0].reading)
	// upToNanos is a record of seq 1, with mask, empty strings and TS
	// seconds 0, up to its TS nanoseconds; withMask adds nanoseconds 0.
	upToNanos := func(mask uint64) []byte {
		b := binary.AppendUvarint(nil, 1)
		b = binary.AppendUvarint(b, mask)
		return append(b, make([]byte, 7+1)...)
	}
	withMask := func(mask uint64) []byte { return append(upToNanos(mask), 0) }
	// The cases below are made of these, which must decode as they are.
	if _, err := decodeBlock(append(withMask(hasOnline), 1), 0, nil); err != nil {
		t.Fatalf("the cases' well-formed record: %v", err)
	}
	tests := []struct {
		name  string
		plain []byte
		after uint64
	}{
		{"empty block", nil, 0},
		{"seq not above after", valid, 5},
		{"seqs not increasing", append(appendRecord(nil, 7, &rules.Reading{}), valid...), 0},
		{"same seq twice", append(bytes.Clone(valid), valid...), 0},
		{"unknown field", withMask(allFields + 1), 0},
		{"bool neither 0 nor 1", append(withMask(hasOnline), 2), 0},
		{"float cut short", append(withMask(hasLat), 1, 2, 3), 0},
		{"nanoseconds out of range", binary.AppendUvarint(upToNanos(0), uint64(time.Second)), 0},
		{"string longer than the block", binary.AppendUvarint(binary.AppendUvarint(binary.AppendUvarint(nil, 1), 0), 1<<62), 0},
		{"overlong uvarint", bytes.Repeat([]byte{0xff}, 11), 0},
		{"trailing garbage", append(bytes.Clone(valid), 0x80), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := decodeBlock(tc.plain, tc.after, nil); err == nil {
				t.Fatalf("decoded %d records, want an error", len(got))
			}
		})
	}
	// Every cut of a record short of its end is an error.
	for n := range len(valid) {
		if _, err := decodeBlock(valid[:n], 0, nil); err == nil {
			t.Fatalf("the first %d of %d bytes decoded, want an error", n, len(valid))
		}
	}
}

// FuzzDecodeBlock checks that the decoder never panics, and that what it
// decodes encodes to bytes that decode the same again.
func FuzzDecodeBlock(f *testing.F) {
	var all []record
	for i, tc := range testReadings {
		f.Add(appendRecord(nil, uint64(i+1), &tc.reading))
		all = append(all, record{uint64(i + 1), tc.reading})
	}
	f.Add(encodeRecords(all))
	f.Fuzz(func(t *testing.T, plain []byte) {
		records, err := decodeBlock(plain, 0, nil)
		if err != nil {
			return
		}
		for i := 1; i < len(records); i++ {
			if records[i].seq <= records[i-1].seq {
				t.Fatalf("seqs %d then %d decoded", records[i-1].seq, records[i].seq)
			}
		}
		encoded := encodeRecords(records)
		again, err := decodeBlock(encoded, 0, nil)
		if err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		if reencoded := encodeRecords(again); !bytes.Equal(reencoded, encoded) {
			t.Fatalf("round trip changed the block:\n%x\n%x", encoded, reencoded)
		}
	})
}

// BenchmarkDecodeBlock is a replay's decoding, per record.
func BenchmarkDecodeBlock(b *testing.B) {
	var all []record
	for i := range 1000 {
		all = append(all, record{uint64(i + 1), testReadings[i%len(testReadings)].reading})
	}
	plain := encodeRecords(all)
	var records []record
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if records, err = decodeBlock(plain, 0, records[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/record")
}

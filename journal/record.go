package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// A block's plaintext is records one after another. A record is its seq
// (uvarint), a presence mask (uvarint) of the reading's optional fields, its
// strings (each a uvarint length and the bytes), its TS as Unix seconds
// (varint) and nanoseconds (uvarint), then the values of the optional fields
// the mask holds, in the mask's order: floats as 8 bytes LE, bools as a byte.
//
// TS is seconds and nanoseconds, not Unix nanoseconds: those end in 2262, and
// ingest takes a device's ts up to the year 9999 (clock.CheckTS). A zero TS
// round-trips as zero without a presence bit.

// record is one reading and the seq Append handed out for it.
type record struct {
	seq     uint64
	reading rules.Reading
}

// Presence bits of the optional fields, in the order their values follow.
const (
	hasTotalLiters uint64 = 1 << iota
	hasFlowLPM
	hasMotion
	hasOpen
	hasLat
	hasLon
	hasAccuracyM
	hasBatteryPct
	hasWorn
	hasHeartRate
	hasTotalKWh
	hasPowerW
	hasOnline
	allFields = hasOnline<<1 - 1
)

// appendRecord appends r's record to b; it allocates nothing once b has room.
func appendRecord(b []byte, seq uint64, r *rules.Reading) []byte {
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, presence(r))
	b = appendString(b, r.DeviceID)
	b = appendString(b, r.HouseholdID)
	b = appendString(b, string(r.Kind))
	b = appendString(b, string(r.Stream))
	b = appendString(b, r.Room)
	b = appendString(b, r.Event)
	b = appendString(b, r.CheckID)
	b = binary.AppendVarint(b, r.TS.Unix())
	b = binary.AppendUvarint(b, uint64(r.TS.Nanosecond()))
	b = appendFloat(b, r.TotalLiters)
	b = appendFloat(b, r.FlowLPM)
	b = appendBool(b, r.Motion)
	b = appendBool(b, r.Open)
	b = appendFloat(b, r.Lat)
	b = appendFloat(b, r.Lon)
	b = appendFloat(b, r.AccuracyM)
	b = appendFloat(b, r.BatteryPct)
	b = appendBool(b, r.Worn)
	b = appendFloat(b, r.HeartRate)
	b = appendFloat(b, r.TotalKWh)
	b = appendFloat(b, r.PowerW)
	b = appendBool(b, r.Online)
	return b
}

func presence(r *rules.Reading) uint64 {
	return presentBit(r.TotalLiters, hasTotalLiters) | presentBit(r.FlowLPM, hasFlowLPM) |
		presentBit(r.Motion, hasMotion) | presentBit(r.Open, hasOpen) |
		presentBit(r.Lat, hasLat) | presentBit(r.Lon, hasLon) | presentBit(r.AccuracyM, hasAccuracyM) |
		presentBit(r.BatteryPct, hasBatteryPct) | presentBit(r.Worn, hasWorn) | presentBit(r.HeartRate, hasHeartRate) |
		presentBit(r.TotalKWh, hasTotalKWh) | presentBit(r.PowerW, hasPowerW) | presentBit(r.Online, hasOnline)
}

func presentBit[T any](p *T, mask uint64) uint64 {
	if p == nil {
		return 0
	}
	return mask
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendFloat(b []byte, p *float64) []byte {
	if p == nil {
		return b
	}
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(*p))
}

func appendBool(b []byte, p *bool) []byte {
	switch {
	case p == nil:
		return b
	case *p:
		return append(b, 1)
	default:
		return append(b, 0)
	}
}

// firstSeq is the seq of a block's first record, which the block begins with.
func firstSeq(block []byte) uint64 {
	seq, _ := binary.Uvarint(block)
	return seq
}

// decodeBlock appends the records of a block's plaintext to records. Every
// seq must be above after and above the one before it. After an error, what
// it appended is not to be used: a block is replayed whole or not at all.
func decodeBlock(plain []byte, after uint64, records []record) ([]record, error) {
	if len(plain) == 0 {
		return records, errors.New("empty block")
	}
	d := decoder{b: plain}
	for len(d.b) > 0 {
		seq := d.uvarint()
		if d.err == nil && seq <= after {
			return records, fmt.Errorf("record %d after %d: out of order", seq, after)
		}
		r := d.reading()
		if d.err != nil {
			return records, d.err
		}
		records = append(records, record{seq, r})
		after = seq
	}
	return records, nil
}

// decoder reads records; the first problem sticks, and every length is
// checked against what is left before anything is allocated for it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) reading() rules.Reading {
	mask := d.uvarint()
	if mask&^allFields != 0 {
		d.fail("unknown field")
	}
	var r rules.Reading
	r.DeviceID = d.string()
	r.HouseholdID = d.string()
	r.Kind = registry.DeviceKind(d.string())
	r.Stream = rules.Stream(d.string())
	r.Room = d.string()
	r.Event = d.string()
	r.CheckID = d.string()
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= uint64(time.Second) {
		d.fail("nanoseconds out of range")
	}
	r.TS = time.Unix(sec, int64(nsec)).UTC()
	r.TotalLiters = d.float(mask, hasTotalLiters)
	r.FlowLPM = d.float(mask, hasFlowLPM)
	r.Motion = d.bool(mask, hasMotion)
	r.Open = d.bool(mask, hasOpen)
	r.Lat = d.float(mask, hasLat)
	r.Lon = d.float(mask, hasLon)
	r.AccuracyM = d.float(mask, hasAccuracyM)
	r.BatteryPct = d.float(mask, hasBatteryPct)
	r.Worn = d.bool(mask, hasWorn)
	r.HeartRate = d.float(mask, hasHeartRate)
	r.TotalKWh = d.float(mask, hasTotalKWh)
	r.PowerW = d.float(mask, hasPowerW)
	r.Online = d.bool(mask, hasOnline)
	return r
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string longer than the block")
	}
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) float(mask, field uint64) *float64 {
	if mask&field == 0 || d.err != nil {
		return nil
	}
	if len(d.b) < 8 {
		d.fail("truncated float")
		return nil
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return &v
}

func (d *decoder) bool(mask, field uint64) *bool {
	if mask&field == 0 || d.err != nil {
		return nil
	}
	if len(d.b) < 1 || d.b[0] > 1 {
		d.fail("bad bool")
		return nil
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return &v
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("corrupt record: %s", what)
	}
	d.b = nil
}

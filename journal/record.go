package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/eldersafe/eldersafe/binenc"
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
	b = binenc.AppendString(b, r.DeviceID)
	b = binenc.AppendString(b, r.HouseholdID)
	b = binenc.AppendString(b, string(r.Kind))
	b = binenc.AppendString(b, string(r.Stream))
	b = binenc.AppendString(b, r.Room)
	b = binenc.AppendString(b, r.Event)
	b = binenc.AppendString(b, r.CheckID)
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

func appendFloat(b []byte, p *float64) []byte {
	if p == nil {
		return b
	}
	return binenc.AppendFloat64(b, *p)
}

func appendBool(b []byte, p *bool) []byte {
	if p == nil {
		return b
	}
	return binenc.AppendBool(b, *p)
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
	d := decoder{binenc.NewDecoder(plain)}
	for d.Len() > 0 {
		seq := d.Uvarint(math.MaxUint64)
		if d.Err() == nil && seq <= after {
			return records, fmt.Errorf("record %d after %d: out of order", seq, after)
		}
		r := d.reading()
		if d.Err() != nil {
			return records, fmt.Errorf("record after %d: %w", after, d.Err())
		}
		records = append(records, record{seq, r})
		after = seq
	}
	return records, nil
}

// decoder reads records: binenc's fields, and a reading's optional ones.
type decoder struct{ binenc.Decoder }

func (d *decoder) reading() rules.Reading {
	mask := d.Uvarint(allFields)
	var r rules.Reading
	r.DeviceID = d.string()
	r.HouseholdID = d.string()
	r.Kind = registry.DeviceKind(d.string())
	r.Stream = rules.Stream(d.string())
	r.Room = d.string()
	r.Event = d.string()
	r.CheckID = d.string()
	sec, nsec := d.Varint(), d.Uvarint(uint64(time.Second)-1)
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

// string is a copy: the next block is read into the same buffer.
func (d *decoder) string() string { return string(d.Bytes(math.MaxUint64)) }

func (d *decoder) float(mask, field uint64) *float64 {
	if mask&field == 0 {
		return nil
	}
	v := d.Float64()
	return &v
}

func (d *decoder) bool(mask, field uint64) *bool {
	if mask&field == 0 {
		return nil
	}
	v := d.Bool()
	return &v
}

// Package binenc writes and reads the fields of the monitor's own binary
// formats: the rules' saved states, the snapshot, the journal and the
// device cache's image. Integers are varints, floats 8 bytes little-endian,
// strings and byte slices a uvarint length and the bytes.
//
// A Decoder never panics on what it reads: every length is checked
// against what is left (and against the caller's limit) before it, or a
// caller, sizes anything by it.
package binenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// AppendString appends s, its length first.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends p, its length first.
func AppendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// AppendBool appends v as a byte, 1 or 0.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendFloat64 appends v as 8 bytes, little-endian.
func AppendFloat64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// ErrCorrupt is what a Decoder's error wraps.
var ErrCorrupt = errors.New("truncated or corrupt")

// Decoder reads fields one after another. Its first problem sticks: what is
// left is dropped, Err says where it was, and every later read returns zero.
type Decoder struct {
	b    []byte
	size int
	err  error
}

// NewDecoder reads b.
func NewDecoder(b []byte) Decoder { return Decoder{b: b, size: len(b)} }

// Len is how many bytes are left.
func (d *Decoder) Len() int { return len(d.b) }

// Err is the first problem met, nil if none.
func (d *Decoder) Err() error { return d.err }

// Fail ends reading with a problem the caller found in what it read: its
// error wraps ErrCorrupt and says where.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %w", what, d.size-len(d.b), ErrCorrupt)
	}
	d.b = nil
}

// Byte is the next byte.
func (d *Decoder) Byte() byte {
	if len(d.b) < 1 {
		d.Fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Uvarint is the next unsigned varint, which must be at most limit.
func (d *Decoder) Uvarint(limit uint64) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.Fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint is the next signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Fixed is the next n bytes, in what the Decoder reads. After a problem it
// is n zero bytes, so that a caller may index them.
func (d *Decoder) Fixed(n int) []byte {
	if len(d.b) < n {
		d.Fail("fixed")
		return make([]byte, n)
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Bool is the next byte, which must be 1 or 0.
func (d *Decoder) Bool() bool {
	if len(d.b) > 0 && d.b[0] > 1 {
		d.Fail("bool")
		return false
	}
	return d.Byte() == 1
}

// Uint32 is the next 4 bytes, little-endian.
func (d *Decoder) Uint32() uint32 { return binary.LittleEndian.Uint32(d.Fixed(4)) }

// Float64 is the next 8 bytes, little-endian.
func (d *Decoder) Float64() float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(d.Fixed(8)))
}

// Bytes is the next length and as many bytes, in what the Decoder reads: at
// most limit of them.
func (d *Decoder) Bytes(limit uint64) []byte {
	n := d.Uvarint(limit)
	if d.err == nil && n > uint64(len(d.b)) {
		d.Fail("length")
	}
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

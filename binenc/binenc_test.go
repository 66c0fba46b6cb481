package binenc_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/binenc"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = appendAll(b)
	d := binenc.NewDecoder(b)
	if v := d.Byte(); v != 7 {
		t.Errorf("Byte %d, want 7", v)
	}
	if v := d.Uvarint(300); v != 300 {
		t.Errorf("Uvarint %d, want 300", v)
	}
	if v := d.Varint(); v != -5 {
		t.Errorf("Varint %d, want -5", v)
	}
	if v := string(d.Bytes(10)); v != "room" {
		t.Errorf("string %q, want room", v)
	}
	if v := string(d.Bytes(10)); v != "\x00\x01" {
		t.Errorf("bytes %q", v)
	}
	if v := d.Float64(); v != math.Pi {
		t.Errorf("Float64 %v, want π", v)
	}
	if v := d.Uint32(); v != 0xdeadbeef {
		t.Errorf("Uint32 %#x", v)
	}
	if !d.Bool() || d.Bool() {
		t.Error("Bool: want true, then false")
	}
	if d.Err() != nil || d.Len() != 0 {
		t.Errorf("after reading all: err %v, %d bytes left", d.Err(), d.Len())
	}
}

func appendAll(b []byte) []byte {
	b = binenc.AppendString(b, "room")
	b = binenc.AppendBytes(b, []byte{0, 1})
	b = binenc.AppendFloat64(b, math.Pi)
	b = binary.LittleEndian.AppendUint32(b, 0xdeadbeef)
	return binenc.AppendBool(binenc.AppendBool(b, true), false)
}

// The first problem sticks, says where it was, and later reads are zero.
func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		read func(d *binenc.Decoder)
		at   string
	}{
		{"empty byte", nil, func(d *binenc.Decoder) { d.Byte() }, "byte at byte 0"},
		{"uvarint over its limit", binary.AppendUvarint([]byte{1}, 11), func(d *binenc.Decoder) { d.Byte(); d.Uvarint(10) }, "uvarint at byte 1"},
		{"truncated varint", []byte{0x80}, func(d *binenc.Decoder) { d.Varint() }, "varint at byte 0"},
		{"length past the end", binenc.AppendString(nil, "abc")[:3], func(d *binenc.Decoder) { d.Bytes(10) }, "length at byte 1"},
		{"length over its limit", binenc.AppendString(nil, "abc"), func(d *binenc.Decoder) { d.Bytes(2) }, "uvarint at byte 0"},
		{"short float", []byte{1, 2, 3}, func(d *binenc.Decoder) { d.Float64() }, "fixed at byte 0"},
		{"bool of 2", []byte{2}, func(d *binenc.Decoder) { d.Bool() }, "bool at byte 0"},
		{"the caller's", []byte{1, 2}, func(d *binenc.Decoder) { d.Byte(); d.Fail("kind") }, "kind at byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := binenc.NewDecoder(tc.in)
			tc.read(&d)
			if !errors.Is(d.Err(), binenc.ErrCorrupt) || !strings.HasPrefix(d.Err().Error(), tc.at) {
				t.Fatalf("err %v, want %q…", d.Err(), tc.at)
			}
			first := d.Err()
			if d.Len() != 0 || d.Byte() != 0 || d.Uvarint(math.MaxUint64) != 0 || d.Bytes(10) != nil || d.Err() != first {
				t.Errorf("after the problem: reads not zero, or the error changed to %v", d.Err())
			}
			if got := d.Fixed(4); len(got) != 4 {
				t.Errorf("Fixed(4) after a problem: %d bytes, want 4 to index", len(got))
			}
		})
	}
}

// Whatever it reads, a Decoder neither panics nor hands out more than was
// there.
func FuzzDecoder(f *testing.F) {
	f.Add(appendAll(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := binenc.NewDecoder(in)
		got := 0
		for d.Len() > 0 && d.Err() == nil {
			before := d.Len()
			switch d.Byte() % 6 {
			case 0:
				got += len(d.Bytes(math.MaxUint64))
			case 1:
				d.Varint()
			case 2:
				d.Uvarint(1 << 20)
			case 3:
				if b := d.Fixed(3); d.Err() == nil {
					got += len(b)
				}
			case 4:
				d.Bool()
			default:
				d.Float64()
			}
			if d.Len() >= before {
				t.Fatalf("read nothing: %d bytes left of %d", d.Len(), before)
			}
		}
		if got > len(in) {
			t.Fatalf("handed out %d bytes of %d", got, len(in))
		}
	})
}

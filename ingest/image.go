package ingest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/eldersafe/eldersafe/binenc"
	"github.com/eldersafe/eldersafe/registry"
)

// CacheImage is the device cache as a snapshot keeps it, a part a shard:
// its index, slots and text as they are, read back (Pipeline.LoadCachePart)
// without hashing an id or placing a slot. Stored one device at a time,
// the five million devices of a million households were 4.3 of a
// restart's 14 CPU-seconds, half of it a cache miss each in the index
// (docs/performance.md, "Restart, tenth round"). The duplicate filters are
// left out: a restart has always begun them empty.
type CacheImage struct{ c *deviceCache }

// CacheImage is the device cache's image, to write while nothing changes
// the cache (a clean stop).
func (p *Pipeline) CacheImage() CacheImage { return CacheImage{p.devices} }

// Parts is how many parts the image is written in.
func (i CacheImage) Parts() int { return len(i.c.shards) }

// AppendPart appends part's encoding to b.
func (i CacheImage) AppendPart(b []byte, part int) []byte {
	s := &i.c.shards[part]
	s.mu.RLock()
	defer s.mu.RUnlock()
	b = binary.AppendUvarint(b, uint64(len(i.c.shards)))
	b = binary.AppendUvarint(b, uint64(part))
	x := &s.index
	b = binary.AppendUvarint(b, uint64(len(x.entries)))
	b = binary.AppendUvarint(b, uint64(x.used))
	b = binary.AppendUvarint(b, uint64(x.live))
	for _, e := range x.entries {
		b = binary.LittleEndian.AppendUint32(b, e.tag)
		b = binary.LittleEndian.AppendUint32(b, e.slot)
	}
	b = binary.AppendUvarint(b, uint64(len(s.slots)))
	for _, cd := range s.slots {
		b = binary.LittleEndian.AppendUint32(b, cd.id)
		b = binary.LittleEndian.AppendUint32(b, cd.household)
		b = binary.LittleEndian.AppendUint32(b, cd.other)
		b = append(b, cd.kind)
	}
	b = binary.AppendUvarint(b, uint64(len(s.free)))
	for _, f := range s.free {
		b = binary.LittleEndian.AppendUint32(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(s.text)))
	for _, block := range s.text {
		b = binenc.AppendBytes(b, block)
	}
	b = binary.AppendUvarint(b, uint64(len(s.others)))
	for _, o := range s.others {
		b = binenc.AppendString(b, string(o.kind))
		b = binenc.AppendString(b, string(o.source))
		b = binenc.AppendString(b, o.sourceTopic)
		b = binenc.AppendString(b, o.gatewayID)
		b = binary.AppendVarint(b, int64(o.expectedEvery))
	}
	return b
}

// LoadCachePart restores one part of a CacheImage, before any message is
// taken; the parts of one image may load at once. A part that does not
// decode, or that does not fit the cache as the image's other parts left
// it, is an error and changes nothing.
func (p *Pipeline) LoadCachePart(b []byte) error {
	shards, at, s, err := decodeShard(b)
	if err != nil {
		return fmt.Errorf("device cache image: %w", err)
	}
	if err := p.devices.adopt(shards, at, s); err != nil {
		return fmt.Errorf("device cache image: %w", err)
	}
	// Devices of a source are found by their topic too.
	for i := range s.slots {
		if cd := &s.slots[i]; cd.id != 0 && cd.other > 0 {
			if d := s.device(s.textAt(cd.id), uint32(i)); !d.Native() {
				p.bySource.Store(sourceKey(d.Source, d.SourceTopic), d)
			}
		}
	}
	return nil
}

// adopt makes s the cache's shard at, of shards: the first part of an
// image sizes the cache, if no device is stored in it yet.
func (c *deviceCache) adopt(shards, at int, s *deviceShard) error {
	c.layout.Lock()
	defer c.layout.Unlock()
	if len(c.shards) != shards {
		if c.stored() {
			return fmt.Errorf("%d shards, the cache has %d in use", shards, len(c.shards))
		}
		c.shards = make([]deviceShard, shards)
	}
	dst := &c.shards[at]
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if len(dst.slots) > 0 {
		return fmt.Errorf("shard %d is there twice, or in use", at)
	}
	dst.index, dst.slots, dst.free, dst.text, dst.others = s.index, s.slots, s.free, s.text, s.others
	return nil
}

// stored says whether any shard holds a device, or did.
func (c *deviceCache) stored() bool {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n := len(s.slots)
		s.mu.RUnlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// maxShards bounds what a corrupt image can make the cache allocate: a
// billion devices would take fewer.
const maxShards = 1 << 20

// decodeShard reads a part written by AppendPart, checking that every
// place it holds is in it: a slot, a text, an other's fields.
func decodeShard(b []byte) (shards, at int, s *deviceShard, err error) {
	d := binenc.NewDecoder(b)
	count := func(limit int) int { return int(d.Uvarint(uint64(limit))) }
	shards, at = count(maxShards), count(maxShards)
	if d.Err() == nil && (shards == 0 || at >= shards) {
		return 0, 0, nil, fmt.Errorf("part %d of %d", at, shards)
	}
	s = &deviceShard{}
	x := &s.index
	size := count(d.Len() / 8)
	x.used, x.live = count(size), count(size)
	if size > 0 {
		if size&(size-1) != 0 || x.live > x.used || !fits(x.used, size) {
			return 0, 0, nil, binenc.ErrCorrupt
		}
		x.entries = make([]indexEntry, size)
		x.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	}
	for i := range x.entries {
		x.entries[i] = indexEntry{tag: d.Uint32(), slot: d.Uint32()}
	}
	s.slots = make([]cachedDevice, count(d.Len()/13))
	for i := range s.slots {
		s.slots[i] = cachedDevice{id: d.Uint32(), household: d.Uint32(), other: d.Uint32(), kind: d.Byte()}
	}
	s.free = make([]uint32, count(d.Len()/4))
	for i := range s.free {
		s.free[i] = d.Uint32()
	}
	s.text = make([][]byte, count(d.Len()))
	for i := range s.text {
		block := d.Bytes(textBlock)
		if i == len(s.text)-1 {
			// The block the next device's text is appended to.
			s.text[i] = append(make([]byte, 0, textBlock), block...)
		} else {
			s.text[i] = append([]byte(nil), block...)
		}
	}
	s.others = make([]otherFields, count(d.Len()/5))
	for i := range s.others {
		o := &s.others[i]
		o.kind = registry.DeviceKind(d.Bytes(math.MaxUint8))
		o.source = registry.Source(d.Bytes(math.MaxUint8))
		o.sourceTopic, o.gatewayID = string(d.Bytes(math.MaxUint16)), string(d.Bytes(math.MaxUint8))
		o.expectedEvery = time.Duration(d.Varint())
	}
	if d.Err() != nil {
		return 0, 0, nil, d.Err()
	}
	if d.Len() > 0 {
		return 0, 0, nil, fmt.Errorf("%d bytes after the shard: %w", d.Len(), binenc.ErrCorrupt)
	}
	if err := s.check(); err != nil {
		return 0, 0, nil, err
	}
	return shards, at, s, nil
}

// check says whether every place s holds is in it.
func (s *deviceShard) check() error {
	// The counts said are the counts there: a probe ends at a free entry,
	// and fits(used) leaves a quarter of them free.
	used, live := 0, 0
	for _, e := range s.index.entries {
		switch {
		case e.slot == 0:
			continue
		case e.slot == tombstone:
		case int(e.slot) > len(s.slots):
			return fmt.Errorf("index: slot %d of %d: %w", e.slot, len(s.slots), binenc.ErrCorrupt)
		default:
			live++
		}
		used++
	}
	if used != s.index.used || live != s.index.live {
		return fmt.Errorf("index: %d entries used, %d live; %d and %d said: %w", used, live, s.index.used, s.index.live, binenc.ErrCorrupt)
	}
	for i, cd := range s.slots {
		if !s.holdsText(cd.id) || !s.holdsText(cd.household) || int(cd.other) > len(s.others) || int(cd.kind) > len(cachedKinds) {
			return fmt.Errorf("slot %d: %w", i, binenc.ErrCorrupt)
		}
	}
	for _, f := range s.free {
		if int(f) >= len(s.slots) {
			return fmt.Errorf("free slot %d of %d: %w", f, len(s.slots), binenc.ErrCorrupt)
		}
	}
	return nil
}

// holdsText says whether a text is at at (textAt).
func (s *deviceShard) holdsText(at uint32) bool {
	if at == 0 {
		return true
	}
	block, off := int(at>>textBlockBits), int(at&(textBlock-1))
	return block < len(s.text) && off < len(s.text[block]) && off+1+int(s.text[block][off]) <= len(s.text[block])
}

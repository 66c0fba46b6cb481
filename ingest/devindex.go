package ingest

import (
	"math"
	"math/bits"
)

// deviceIndex finds a shard's slot of a device by its id's 64-bit hash: an
// open-addressing table of 8-byte entries, probed linearly. It replaced a
// Go map of hash to slot, whose 16-byte entries sit apart from their
// control bytes: a look at a device missed the cache twice, not once, and
// the five million looks of a restart at 1,000,000 households were a
// quarter of its CPU (docs/performance.md, "Restart, sixth round"). Half
// the memory, too.
//
// Ids whose hashes are equal are entries of their own, told apart by their
// text (deviceShard.find). A removed device leaves a tombstone, reused by
// the next device stored there and dropped when the table is rebuilt.
type deviceIndex struct {
	entries []indexEntry // a power of two long, or none
	shift   uint8        // 64 - log2(len(entries))
	used    int          // entries not free: live and tombstones
	live    int
}

// indexEntry is a device's slot, plus one (0: a free entry; tombstone: a
// removed device's), and the top half of its id's hash: the entries of
// most other devices are passed over without reading their ids.
type indexEntry struct {
	tag, slot uint32
}

const (
	tombstone = math.MaxUint32
	// minIndex is the fewest entries an index has once it has one.
	minIndex = 16
)

// fits says whether an index of size entries holds n without growing: at
// most three quarters full, where telling that a device is not there
// looks at about 8.5 entries, one or two cache lines.
func fits(n, size int) bool { return n*4 <= size*3 }

// sizeFor is the entries an index of n devices is made with.
func sizeFor(n int) int {
	size := minIndex
	for !fits(n, size) {
		size *= 2
	}
	return size
}

func tag(h uint64) uint32 { return uint32(h >> 32) }

// home is where the probe for hash h starts. The hash is mixed first: the
// shard was chosen by its remainder, which fixes its low bits.
func (x *deviceIndex) home(h uint64) int {
	return int((h * 0x9e3779b97f4a7c15) >> x.shift)
}

// resize rebuilds the index with size entries (a power of two), hashing
// again each live slot's id with hashOf.
func (x *deviceIndex) resize(size int, hashOf func(slot uint32) uint64) {
	old := x.entries
	x.entries = make([]indexEntry, size)
	x.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	x.used, x.live = 0, 0
	for _, e := range old {
		if e.slot != 0 && e.slot != tombstone {
			x.place(hashOf(e.slot-1), e)
		}
	}
}

// insert adds slot for hash h; the caller knows its id is not there yet.
func (x *deviceIndex) insert(h uint64, slot uint32, hashOf func(slot uint32) uint64) {
	if !fits(x.used+1, len(x.entries)) {
		// Grown when full of live devices, rebuilt at its size when
		// tombstones filled it.
		x.resize(max(sizeFor(x.live+1), len(x.entries)), hashOf)
	}
	x.place(h, indexEntry{tag: tag(h), slot: slot + 1})
}

func (x *deviceIndex) place(h uint64, e indexEntry) {
	mask := len(x.entries) - 1
	for i := x.home(h); ; i = (i + 1) & mask {
		switch x.entries[i].slot {
		case 0:
			x.used++
			fallthrough
		case tombstone:
			x.entries[i] = e
			x.live++
			return
		}
	}
}

// remove drops slot, of hash h.
func (x *deviceIndex) remove(h uint64, slot uint32) {
	if len(x.entries) == 0 {
		return
	}
	mask := len(x.entries) - 1
	for i := x.home(h); x.entries[i].slot != 0; i = (i + 1) & mask {
		if x.entries[i].slot == slot+1 {
			x.entries[i] = indexEntry{slot: tombstone}
			x.live--
			return
		}
	}
}

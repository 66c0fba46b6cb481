package ingest

import (
	"strings"
	"sync"

	"github.com/eldersafe/eldersafe/rules"
)

// recent is how many of a device's last accepted messages are remembered.
// A copy of an older one is accepted again: the rules take a repeated
// reading without moving state backwards, and a repeated fall attaches to
// its open task. A broker redelivers what it has not seen acknowledged, and
// the monitor acknowledges a message once it is stored, so copies come in
// a burst right after a reconnection, of the few messages a device had in
// flight: a sensor that reports every minute or more has one or two. Four
// cover that at 24 bytes a device; sixteen were 640 MB of a million
// households' five million devices (docs/performance.md, "Memory, seventh
// round").
//
// A fall or an SOS is remembered longer: until recent newer alarms of the
// device, however many other messages it sends. Its copy, coming after
// the task it opened was resolved, would open another and send a worker
// to a home for nothing.
const recent = 4

// alarmBit marks the fingerprint of a fall or an SOS, in place of the
// lowest bit of its hash: a copy of a message has the same mark.
const alarmBit = 1

// fingerprintBits is how long a fingerprint is. A message other than a
// copy is taken for one when its fingerprint is one of the device's four:
// with 47 bits of hash, about once in 3·10^13 messages. A million
// households send 5·10^8 to 7·10^8 a day: once in more than a century,
// and then a routine reading far more likely than an alarm, whose
// fingerprint is compared with the device's alarms only. 64 bits took a
// third more memory: 40 MB at a million households (docs/performance.md,
// "Memory, eighth round").
const fingerprintBits = 48

// Dedup spots copies of accepted messages per device (CONTRACT §11): a message
// is a duplicate only when the same device sent the same seq with the same ts
// before. A lower seq with another ts is the device restarting its counter,
// and is accepted; so is a message older or later than any seen, a fall or an
// SOS among them. The zero value is ready to use; it must not be copied.
//
// The pipeline keeps the same record in its device cache instead, beside
// what it knows of each device, so that a device costs one map entry and
// one copy of its id (docs/performance.md, "Memory"); Dedup is the filter
// on its own, for a caller without that cache (the simulator's replay).
//
// One mutex guards all devices rather than shards of them: the critical section
// is a map lookup and a few integer operations, tens of nanoseconds, so even
// thousands of messages a second keep it nearly always free, and the simpler
// code wins.
//
// State lives in memory only (see docs/architecture.md, "Duplicates"): a
// message comes again after a restart only if the crash fell between storing
// its effect and its acknowledgement, and applying it once more changes
// nothing.
type Dedup struct {
	mu      sync.Mutex
	devices map[string]*seen
}

// seen is a device's last accepted messages, each as one fingerprint of its
// seq and ts, the newest first: a fingerprint's top 16 bits in hi, the rest
// in lo, 24 bytes in all.
type seen struct {
	hi [recent]uint16
	lo [recent]uint32
}

func (s *seen) at(i int) uint64 { return uint64(s.hi[i])<<32 | uint64(s.lo[i]) }

func (s *seen) has(fp uint64) bool {
	for i := range recent {
		if s.at(i) == fp {
			return true
		}
	}
	return false
}

// add puts fp first and forgets the oldest message that is not an alarm,
// or, when all are, the oldest.
func (s *seen) add(fp uint64) {
	drop := recent - 1
	for i := recent - 1; i >= 0; i-- {
		if s.lo[i]&alarmBit == 0 {
			drop = i
			break
		}
	}
	copy(s.hi[1:drop+1], s.hi[:drop])
	copy(s.lo[1:drop+1], s.lo[:drop])
	s.hi[0], s.lo[0] = uint16(fp>>32), uint32(fp)
}

// fingerprint mixes a message's seq and its reading's ts in Unix
// milliseconds (the contract's coarsest unit) into fingerprintBits bits,
// the lowest set for an alarm. Two different messages share one by chance
// with a probability of 2^-47 per pair.
func fingerprint(seq uint64, r rules.Reading) uint64 {
	x := seq*0x9e3779b97f4a7c15 ^ uint64(r.TS.UnixMilli())
	// splitmix64's finaliser, so that near seqs and ts spread apart.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	x &= 1<<fingerprintBits - 1
	if r.Alarm() {
		return x | alarmBit
	}
	return x &^ alarmBit
}

// Duplicate reports whether the device's message seq, reading r, was
// accepted before. It records nothing; Record does, once the message has
// been handled, so a message whose handling failed is not dropped as a
// duplicate when it comes again.
func (d *Dedup) Duplicate(deviceID string, seq uint64, r rules.Reading) bool {
	fp := fingerprint(seq, r)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.devices[deviceID]
	return s != nil && s.has(fp)
}

// Record notes that the device's message seq, reading r, was accepted.
func (d *Dedup) Record(deviceID string, seq uint64, r rules.Reading) {
	fp := fingerprint(seq, r)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.devices[deviceID]
	if s == nil {
		if d.devices == nil {
			d.devices = make(map[string]*seen)
		}
		s = &seen{}
		// Clone so the map does not pin the buffer deviceID was cut from.
		d.devices[strings.Clone(deviceID)] = s
	}
	s.add(fp)
}

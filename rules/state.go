package rules

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/eldersafe/eldersafe/binenc"
	"github.com/eldersafe/eldersafe/registry"
)

// stateVersion is the first byte of every saved state, so a later format
// can still read an older one. Version 3 added the learned baseline; a
// version 2 state restores without one. Version 4 added the return home
// (household.back) and learns quiet by hour of the day rather than of the
// week: a version 3 baseline keeps, for each hour, its longest over the
// weekdays. Version 5 added the last reading recorded in the journal
// (household.applied).
const stateVersion = 5

// State is one household's saved rule state.
type State struct {
	HouseholdID string
	Data        []byte
	// Unwritten says the store lacks this state: one a snapshot took with a
	// journal, which a stop leaves to the next checkpoint. Restoring it
	// marks the household changed, so that checkpoint writes it.
	Unwritten bool
}

// stateChunk is the size of the chunks of memory Checkpoint encodes states
// into, about a hundred households' states; keptChunks how many it keeps
// for the next one (2 MB, a commit of 3,000 households).
const (
	stateChunk = 64 << 10
	keptChunks = 32
)

// Checkpoint hands the state of every household changed since the last
// checkpoint to save, in the order of their ids, in batches of at most
// checkpointPart households, each valid until save returns; last says no
// batch follows, so what must be written after every state (the event
// clock) can go with it. A household's state is encoded when its batch is
// taken, so an alarm's own (CheckpointHouseholds), written between two
// batches, is never followed by an older one. If save fails, the
// households of that batch and of those not yet taken stay marked
// changed, so the next checkpoint writes them.
func (e *Engine) Checkpoint(save func(batch []State, last bool) error) error {
	changed := e.takeChanged()
	// In the order of their ids: a store that keeps the states by id
	// (SQLite's rule_state, migration 00077) then writes neighbours on the
	// same pages. With the journal a checkpoint writes nearly every
	// household; at 1,000,000 the monitor's writer made a third of the
	// system calls in this order (docs/performance.md, "Twenty-ninth
	// round"). Sorted outside the checkpoint lock, which an alarm's own
	// write waits for.
	slices.SortFunc(changed, func(a, b changedHousehold) int { return strings.Compare(a.id, b.id) })
	for len(changed) > 0 {
		part := changed[:min(len(changed), checkpointPart)]
		changed = changed[len(part):]
		if err := e.checkpointPart(part, len(changed) == 0, save); err != nil {
			for _, p := range changed {
				p.s.mu.Lock()
				if p.s.unwritten(p.h) {
					p.s.dirty = append(p.s.dirty, p.h)
				}
				p.s.mu.Unlock()
			}
			return err
		}
	}
	return nil
}

// checkpointPart is how many households' states Checkpoint hands to save
// at once. At flat-out speed at a million households a checkpoint holds
// thousands, one transaction of hundreds of milliseconds: a fall's task and
// its own state, whose writes go first, waited for all of it
// (docs/performance.md, "Nineteenth round").
const checkpointPart = 256

// changedHousehold is a household marked changed, with its shard and its
// id (beside the pointers, so that sorting a million of them reads no
// household).
type changedHousehold struct {
	s  *shard
	h  *household
	id string
}

// takeChanged takes the households marked changed off their shards' lists;
// they stay marked until written (isDirty), so a change meanwhile does not
// list them again.
func (e *Engine) takeChanged() []changedHousehold {
	e.checkpointing.Lock()
	defer e.checkpointing.Unlock()
	var changed []changedHousehold
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.dirty {
			changed = append(changed, changedHousehold{s, h, h.id})
		}
		s.dirty = nil
		s.mu.Unlock()
	}
	return changed
}

// unwritten says whether h, a household of s (locked), changed since it
// was last written and is still s's: not removed.
func (s *shard) unwritten(h *household) bool {
	return h.isDirty && s.households[h.id] == h
}

// checkpointPart encodes the households of part still changed and hands
// them to save, marked last or not.
func (e *Engine) checkpointPart(part []changedHousehold, last bool, save func([]State, bool) error) error {
	e.checkpointing.Lock()
	defer e.checkpointing.Unlock()
	var c capture
	for _, p := range part {
		p.s.mu.Lock()
		c.take(e, p.s, p.h)
		p.s.mu.Unlock()
	}
	return c.save(e, last, save)
}

// CheckpointHouseholds is Checkpoint for the households ids only, those
// of them changed since they were last written: an alarm's own, written
// before its message is acknowledged without waiting for every other
// change. Its one batch is marked last. Checkpoints follow one another,
// save included, so a batch taken before this one is written before it.
func (e *Engine) CheckpointHouseholds(ids []string, save func(batch []State, last bool) error) error {
	e.checkpointing.Lock()
	defer e.checkpointing.Unlock()
	var c capture
	for _, id := range ids {
		s := e.shard(id)
		s.mu.Lock()
		if h := s.households[id]; h != nil {
			// It stays in s.dirty; the next Checkpoint passes over it unless
			// it changes again.
			c.take(e, s, h)
		}
		s.mu.Unlock()
	}
	return c.save(e, true, save)
}

// capture is the batch of a checkpoint being taken.
type capture struct {
	batch []State
	taken []*household
	// The states are encoded one after the other into chunks of memory
	// that the next checkpoint uses again: at flat-out speed a commit saves
	// thousands, and a buffer of their own for each, grown as it was
	// encoded, was a quarter of what the monitor allocated
	// (docs/performance.md).
	used  int
	chunk []byte
}

// take encodes h's state into the batch if it changed since it was last
// taken; s is its shard, locked.
func (c *capture) take(e *Engine, s *shard, h *household) {
	if !s.unwritten(h) {
		return // written since it changed, or removed
	}
	if most := h.stateSize(); cap(c.chunk)-len(c.chunk) < most {
		c.chunk = e.chunk(c.used, most)
		c.used++
	}
	start := len(c.chunk)
	c.chunk = h.appendState(c.chunk)
	c.batch = append(c.batch, State{HouseholdID: h.id, Data: c.chunk[start:len(c.chunk):len(c.chunk)]})
	h.isDirty = false
	c.taken = append(c.taken, h)
}

// save hands the batch to save; if that fails, what was taken is marked
// changed again.
func (c *capture) save(e *Engine, last bool, save func([]State, bool) error) error {
	if len(c.batch) == 0 {
		return nil
	}
	if err := save(c.batch, last); err != nil {
		for _, h := range c.taken {
			s := e.shard(h.id)
			s.mu.Lock()
			h.dirty(s)
			s.mu.Unlock()
		}
		return err
	}
	return nil
}

// chunk is the i-th chunk of memory of a checkpoint, empty, with room for
// at least most bytes: a kept one, or a new one kept if there is room.
func (e *Engine) chunk(i, most int) []byte {
	if i < len(e.chunks) && cap(e.chunks[i]) >= most {
		return e.chunks[i][:0]
	}
	c := make([]byte, 0, max(stateChunk, most))
	switch {
	case i < len(e.chunks):
		e.chunks[i] = c
	case i < keptChunks:
		e.chunks = append(e.chunks, c)
	}
	return c
}

// appendState appends the household's rule state to b: a version byte,
// then its fields as varints and fixed-size floats. Settings (zone,
// overrides, away periods) are not in it: the store keeps them in their own
// right. A binary form, because a million households must restore in
// seconds, not minutes.
func (h *household) appendState(b []byte) []byte {
	b = append(b, stateVersion, h.firing)
	for _, v := range []int64{h.newest, h.lastUse, h.lastMotion, h.motionSince, h.lastOpen, h.doorSince, h.powerStart, h.back} {
		b = binary.AppendVarint(b, v)
	}
	b = binenc.AppendFloat64(b, h.powerUsed)
	b = binary.AppendUvarint(b, uint64(len(h.devices)))
	for i := range h.devices {
		d := &h.devices[i]
		b = binenc.AppendString(b, d.id)
		b = binenc.AppendString(b, d.roomName())
		b = append(b, byte(d.kind), d.flags)
		for _, v := range []int64{d.lastSeen, d.lastAlive, d.aAt, d.flowStart} {
			b = binary.AppendVarint(b, v)
		}
		b = binenc.AppendFloat64(b, d.a)
		b = binenc.AppendFloat64(b, d.b)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(d.battery))
	}
	b = h.learned.append(b)
	return binary.AppendUvarint(b, h.applied)
}

// stateSize is at least how many bytes appendState appends: the most each
// field's varint takes.
func (h *household) stateSize() int {
	n := 2 + 8*binary.MaxVarintLen64 + 8 + binary.MaxVarintLen64
	for i := range h.devices {
		d := &h.devices[i]
		n += 2*binary.MaxVarintLen64 + len(d.id) + len(d.roomName()) + 2 + 4*binary.MaxVarintLen64 + 8 + 8 + 4
	}
	return n + 1 + len(baseline{}.quiet) + len(baseline{}.wake) + 2 + 4*binary.MaxVarintLen64
}

// append encodes a baseline after a byte saying whether there is one.
func (l *baseline) append(b []byte) []byte {
	if l == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = append(b, l.quiet[:]...)
	b = append(b, l.wake[:]...)
	b = append(b, l.hourMax, l.today)
	b = binary.AppendUvarint(b, uint64(l.days))
	b = binary.AppendVarint(b, l.hourEnd)
	return binary.AppendVarint(b, l.dayEnd)
}

// baselineV3Hours is how many hours of quiet a version 3 baseline has: one
// per hour of the week, Monday 00:00 first.
const baselineV3Hours = 7 * hoursPerDay

func (d *decoder) baseline(version byte) *baseline {
	if d.Byte() == 0 {
		return nil
	}
	l := &baseline{}
	if version == 3 {
		l.quiet = longestByHour(d.Fixed(baselineV3Hours))
	} else {
		copy(l.quiet[:], d.Fixed(hoursPerDay))
	}
	copy(l.wake[:], d.Fixed(len(l.wake)))
	l.hourMax, l.today = d.Byte(), d.Byte()
	l.days = uint16(d.Uvarint(math.MaxUint16))
	l.hourEnd, l.dayEnd = d.Varint(), d.Varint()
	return l
}

// longestByHour folds a week of hours into a day's, keeping each hour's
// longest learned quiet: too long a usual quiet misses an unusual one, too
// short a one sends a worker to a home where all is well.
func longestByHour(week []byte) [hoursPerDay]uint8 {
	var day [hoursPerDay]uint8
	for hr := range day {
		day[hr] = unlearned
		for d := range 7 {
			if u := week[d*hoursPerDay+hr]; u != unlearned && (day[hr] == unlearned || u > day[hr]) {
				day[hr] = u
			}
		}
	}
	return day
}

// decoder reads a saved state: binenc's fields, and a device's id and room
// as the restored household keeps them.
type decoder struct{ binenc.Decoder }

// id reads a device id as the string among known that spells it, else a
// copy: a restart from a snapshot then keeps one string per device, not
// two (docs/performance.md).
func (d *decoder) id(known []SavedDevice) string {
	b := d.Bytes(maxText)
	for i := range known {
		if known[i].ID == string(b) {
			return known[i].ID
		}
	}
	return string(b)
}

// room is a PIR's room, interned (device.room); zero when empty.
func (d *decoder) room() unique.Handle[string] {
	b := d.Bytes(maxText)
	if len(b) == 0 {
		return unique.Handle[string]{}
	}
	return unique.Make(string(b))
}

// maxText bounds a saved id or room.
const maxText = 1024

// maxDevices bounds what a corrupt state can make us allocate.
const maxDevices = 256

// decodeHousehold reads a saved state into h; device ids spelt as one of
// known are taken from it.
func decodeHousehold(h *household, data []byte, known []SavedDevice) error {
	d := decoder{binenc.NewDecoder(data)}
	v := d.Byte()
	if v < 2 || v > stateVersion {
		return fmt.Errorf("unknown version %d", v)
	}
	h.firing = d.Byte()
	times := [...]*int64{&h.newest, &h.lastUse, &h.lastMotion, &h.motionSince, &h.lastOpen, &h.doorSince, &h.powerStart, &h.back}
	saved := len(times)
	if v < 4 {
		saved-- // no return home
	}
	for _, p := range times[:saved] {
		*p = d.Varint()
	}
	h.powerUsed = d.Float64()
	devices := make([]device, d.Uvarint(maxDevices))
	for i := range devices {
		dev := &devices[i]
		dev.id, dev.room = d.id(known), d.room()
		dev.kind, dev.flags = kind(d.Byte()), d.Byte()
		for _, p := range []*int64{&dev.lastSeen, &dev.lastAlive, &dev.aAt, &dev.flowStart} {
			*p = d.Varint()
		}
		dev.a, dev.b = d.Float64(), d.Float64()
		dev.battery = math.Float32frombits(d.Uint32())
	}
	if v >= 3 {
		h.learned = d.baseline(v)
	}
	if v >= 5 {
		h.applied = d.Uvarint(math.MaxUint64)
	}
	if d.Err() == nil && d.Len() != 0 {
		d.Fail("trailing bytes")
	}
	h.devices = devices
	return d.Err()
}

// Restore sets a household's rule state from a checkpoint, before any reading
// of it is processed, and arms its countdowns as of now: one that ran out
// while the monitor was down fires at the next Advance.
func (e *Engine) Restore(st State, now time.Time) error {
	var restored household
	if err := decodeHousehold(&restored, st.Data, nil); err != nil {
		return fmt.Errorf("decode state of household %s: %w", st.HouseholdID, err)
	}
	e.restore(st, &restored, nil, now)
	return nil
}

// RestoreHousehold is Restore, unless st has no data (a household
// registered, no state saved yet), then ExpectDevice at now for each of
// devices, in one step under the shard's lock: what a restart
// from a snapshot does for each of a million households. The state's
// device ids are taken from devices, so the caller's strings are the
// engine's too.
func (e *Engine) RestoreHousehold(st State, devices []SavedDevice, now time.Time) error {
	if len(st.Data) == 0 {
		e.restore(st, nil, devices, now)
		return nil
	}
	var restored household
	if err := decodeHousehold(&restored, st.Data, devices); err != nil {
		return fmt.Errorf("decode state of household %s: %w", st.HouseholdID, err)
	}
	e.restore(st, &restored, devices, now)
	return nil
}

// restore sets st's household's state from restored (nil: leaves it), adds
// the devices it lacks and sets every device's expected interval, then
// arms its countdowns as of now.
func (e *Engine) restore(st State, restored *household, devices []SavedDevice, now time.Time) {
	id := st.HouseholdID
	global := e.cfg.Load()
	if restored != nil {
		e.started.Store(max(e.started.Load(), now.UnixNano()))
	}
	s := e.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.household(id)
	if restored != nil {
		// A household known already (a standby following its leader's
		// writes) keeps each device's own interval, which a saved state
		// does not hold.
		for i := range restored.devices {
			if j := h.find(restored.devices[i].id); j >= 0 {
				restored.devices[i].every = h.devices[j].every
			}
		}
		up := h.online()
		h.newest, h.firing, h.lastUse = restored.newest, restored.firing, restored.lastUse
		h.lastMotion, h.motionSince, h.lastOpen, h.doorSince = restored.lastMotion, restored.motionSince, restored.lastOpen, restored.doorSince
		h.powerStart, h.powerUsed, h.devices, h.back = restored.powerStart, restored.powerUsed, restored.devices, restored.back
		h.learned, h.applied = restored.learned, restored.applied
		s.online.Add(int64(h.online() - up))
		h.armed = 0
	}
	if st.Unwritten {
		h.dirty(s)
	}
	missing := 0
	for _, sd := range devices {
		if sd.Kind.Valid() && h.find(sd.ID) < 0 {
			missing++
		}
	}
	h.grow(missing)
	for _, sd := range devices {
		h.expect(s, sd, now)
	}
	e.rearm(s, h, max(h.newest, now.UnixNano()), global)
}

// SavedDevice is what the engine knows of a device beyond its saved state:
// its kind and how often it is expected to report (zero: its kind's).
type SavedDevice struct {
	ID    string
	Kind  registry.DeviceKind
	Every time.Duration
}

// SaveAll hands every household's state, as Checkpoint would save it, with
// its devices, one shard at a time under the shard's lock: for a snapshot
// taken when nothing else runs (a clean stop). The state's data and the
// slice of devices handed over are reused between calls.
func (e *Engine) SaveAll(yield func(State, []SavedDevice) bool) { e.SavePart(0, 1, yield) }

// SavePart is SaveAll for one of parts disjoint parts of the households
// (part from 0 to parts-1): parts goroutines, one a part, save them all at
// once, a million households in a fraction of the time one takes.
func (e *Engine) SavePart(part, parts int, yield func(State, []SavedDevice) bool) {
	var devices []SavedDevice
	var data []byte
	for i := part; i < len(e.shards); i += parts {
		s := &e.shards[i]
		s.mu.Lock()
		for id, h := range s.households {
			devices = devices[:0]
			for j := range h.devices {
				d := &h.devices[j]
				devices = append(devices, SavedDevice{ID: d.id, Kind: d.kind.name(), Every: time.Duration(d.every) * time.Minute})
			}
			data = h.appendState(data[:0])
			if !yield(State{HouseholdID: id, Data: data, Unwritten: h.isDirty}, devices) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
	}
}

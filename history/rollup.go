package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// RollupStore keeps the roll-up; store.DB implements it.
type RollupStore interface {
	// AddReadingHours adds each hour's counts to what is stored for its
	// household and hour, and saves the meters' registers (never moving one
	// back in time), in one transaction.
	AddReadingHours(ctx context.Context, hours []HouseholdHour, meters []MeterRegister) error
	// ReadingHours lists a household's stored hours in [from, to).
	ReadingHours(ctx context.Context, householdID string, from, to time.Time) ([]Hour, error)
	// CountMeterRegisters is how many registers are saved.
	CountMeterRegisters(ctx context.Context) (int, error)
	// EachMeterRegister calls each with every saved register.
	EachMeterRegister(ctx context.Context, each func(MeterRegister) error) error
	// PruneReadingHours deletes the hours before before, and the registers
	// last read before it; it returns how many hours it deleted.
	PruneReadingHours(ctx context.Context, before time.Time) (int64, error)
	// DeleteReadingHours deletes a household's stored hours and registers.
	DeleteReadingHours(ctx context.Context, householdID string) error
}

// HouseholdHour is one hour of one household's roll-up.
type HouseholdHour struct {
	HouseholdID string
	Hour
}

// MeterRegister is the last reading of a meter's register, kept so that a
// restart does not lose what the meter counts next.
type MeterRegister struct {
	DeviceID    string
	HouseholdID string
	// Field is FieldTotalLiters or FieldTotalKWh.
	Field string
	Meter
}

// Defaults of RollupOptions.
const (
	DefaultRollupFlush     = 30 * time.Second
	DefaultRollupFlushAt   = 16384
	DefaultRollupRetention = MaxChartDays * 24 * time.Hour
)

// RollupOptions wire a Rollup.
type RollupOptions struct {
	Store RollupStore
	// Clock is the monitor's clock (event time under --clock event, zero
	// before its first event): the roll-up keeps Retention before it.
	Clock clock.Clock
	// FlushInterval is how often the sums are written to the store; a crash
	// loses at most this much of the motion and door counts (a meter's
	// next reading counts on from its saved register). Zero:
	// DefaultRollupFlush.
	FlushInterval time.Duration
	// FlushAt is how many household-hours and meter registers may wait
	// for a flush, or an eighth of the meters known if that is more: a
	// burst that reaches it is written at once, not at the next tick.
	// With every household of 100,000 heard from within the interval,
	// some 20 MB waited (an Hour and a map entry a household, 56 bytes a
	// meter), and the soft memory limit, set from what a collection finds
	// live, grew by them and a quarter more (docs/performance.md, "Memory,
	// eighth round"); an eighth of the meters is some 30 bytes a
	// household. Zero: DefaultRollupFlushAt.
	FlushAt int
	// Retention is how long hours are kept. Zero: DefaultRollupRetention,
	// the longest chart (31 days).
	Retention  time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Rollup is the local history used when InfluxDB is not configured: per
// household and hour, the water litres, motion events, door openings and
// power kWh of the readings it is given. Reading only adds to sums in
// memory; Run writes them to the store every FlushInterval.
type Rollup struct {
	opts RollupOptions

	// flushMu has flushes follow one another.
	flushMu sync.Mutex
	// writeMu keeps Chart and Forget out of a flush's transaction, not out
	// of the whole flush, which at a million households is a thousand
	// transactions and seconds: a chart counts each sum once (stored, in
	// the flush under way, or pending), and a household erased is dropped
	// from what the flush has not written yet.
	writeMu sync.Mutex
	// unwritten is what the flush under way has not written yet, each
	// sorted by household. writeMu.
	unwritten       []HouseholdHour
	unwrittenMeters []MeterRegister

	mu      sync.Mutex
	pending map[hourKey]*Hour
	meters  meters
	full    chan struct{} // FlushAt reached
	// held are the readings and erasures that came after Hold, applied in
	// order once LoadRegisters has the registers in.
	held     []heldChange
	holding  bool
	heldFull bool // maxHeld reached since Hold; said once

	flushErrors prometheus.Counter
	log         *slog.Logger
}

type hourKey struct {
	household string
	hour      int64 // Unix seconds of the hour's start
}

// meters are the registers the roll-up follows: with a million households,
// two million. A meter is kept by its device id's 64-bit hash, not the id:
// with the id, a map of ids to indexes and 40-byte states took about 75
// bytes a meter, 53 now (docs/performance.md, "Memory, eighth round").
// Two meters whose ids hash alike, less than once in ten million runs of
// two million meters (the seed is new at each load), would count each
// other's readings in a chart. The ids are kept only for the meters read
// since the last flush, whose registers it saves.
type meters struct {
	seed   maphash.Seed
	index  map[uint64]int32 // by the hash of the device id
	states []meterState
	free   []int32 // states of forgotten meters
	dirty  []dirtyMeter
}

// meterState is a Meter in 32 bytes: its time as Unix nanoseconds, its
// field as a flag, its household as its id's hash.
type meterState struct {
	at        int64 // 0: no reading yet
	value     float64
	household uint64
	dirty     int32 // 1 + its index in meters.dirty; 0: saved
	kwh       bool  // total_kwh, else total_liters
}

// dirtyMeter is a meter whose register the next flush saves, under the
// ids its last reading gave.
type dirtyMeter struct {
	device, household string
	state             int32 // -1: forgotten since
}

func newMeters(n int) meters {
	return meters{seed: maphash.MakeSeed(), index: make(map[uint64]int32, n), states: make([]meterState, 0, n)}
}

func (ms *meters) hash(id string) uint64 { return maphash.String(ms.seed, id) }

func (ms *meters) add(h uint64, st meterState) int32 {
	var i int32
	if n := len(ms.free); n > 0 {
		i, ms.free = ms.free[n-1], ms.free[:n-1]
		ms.states[i] = st
	} else {
		i = int32(len(ms.states))
		ms.states = append(ms.states, st)
	}
	ms.index[h] = i
	return i
}

// changed marks a meter's register for the next flush, under the ids of
// the reading that changed it.
func (ms *meters) changed(i int32, device, household string) {
	st := &ms.states[i]
	if st.dirty > 0 {
		ms.dirty[st.dirty-1].household = household
		return
	}
	// A copy: ingest cut the id from the message's topic.
	ms.dirty = append(ms.dirty, dirtyMeter{device: strings.Clone(device), household: household, state: i})
	st.dirty = int32(len(ms.dirty))
}

// takeDirty returns the registers changed since it was last called.
func (ms *meters) takeDirty() []MeterRegister {
	registers := make([]MeterRegister, 0, len(ms.dirty))
	for _, d := range ms.dirty {
		if d.state < 0 {
			continue
		}
		st := &ms.states[d.state]
		registers = append(registers, MeterRegister{DeviceID: d.device, HouseholdID: d.household, Field: st.field(), Meter: st.meter()})
		st.dirty = 0
	}
	ms.dirty = nil // a burst's worth is not kept
	return registers
}

// forget drops the meters of a household.
func (ms *meters) forget(household string) {
	hh := ms.hash(household)
	for h, i := range ms.index {
		st := &ms.states[i]
		if st.household != hh {
			continue
		}
		if st.dirty > 0 {
			ms.dirty[st.dirty-1] = dirtyMeter{state: -1}
		}
		delete(ms.index, h)
		*st = meterState{}
		ms.free = append(ms.free, i)
	}
}

func (m *meterState) field() string {
	if m.kwh {
		return FieldTotalKWh
	}
	return FieldTotalLiters
}

func (m *meterState) meter() Meter {
	if m.at == 0 {
		return Meter{Value: m.value}
	}
	return Meter{At: time.Unix(0, m.at).UTC(), Value: m.value}
}

func (m *meterState) set(mt Meter) {
	m.at, m.value = 0, mt.Value
	if !mt.At.IsZero() {
		m.at = mt.At.UnixNano()
	}
}

func stateOf(household uint64, field string, mt Meter) meterState {
	st := meterState{household: household, kwh: field == FieldTotalKWh}
	st.set(mt)
	return st
}

// NewRollup checks opts. LoadRegisters, before the first reading, counts
// the meters on from their saved registers.
func NewRollup(opts RollupOptions) (*Rollup, error) {
	if opts.Store == nil || opts.Clock == nil {
		return nil, errors.New("history: roll-up store and clock are required")
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultRollupFlush
	}
	if opts.FlushAt <= 0 {
		opts.FlushAt = DefaultRollupFlushAt
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRollupRetention
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	r := &Rollup{
		opts:    opts,
		pending: make(map[hourKey]*Hour),
		meters:  newMeters(0),
		full:    make(chan struct{}, 1),
		log:     opts.Logger,
		flushErrors: promauto.With(opts.Registerer).NewCounter(prometheus.CounterOpts{
			Name: "eldersafe_rollup_write_errors_total",
			Help: "Failed writes of the readings roll-up to the store (retried at the next flush).",
		}),
	}
	return r, nil
}

// heldChange is a reading held back (Hold), or a household's erasure.
type heldChange struct {
	sample
	forget string // the household erased; sample is empty
}

// maxHeld bounds the readings held while the registers load, 88 bytes
// each: at a million households they load in 3 to 4 s before the first
// message, 10 s beside every device speaking at 28,000 messages a second,
// which held some 200,000. Past it, readings are left out of the charts;
// erasures are always held.
const maxHeld = 1 << 20

// Hold has the readings and erasures that come from now on wait, in order,
// until LoadRegisters has the saved registers in. The monitor takes
// messages before that (app.work): at a million households the registers
// are 3 to 4 CPU-seconds the restart need not wait for, and a reading
// counted on a meter without its register would lose what it counted
// across the restart.
func (r *Rollup) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holding = true
}

// LoadRegisters reads the meters' saved registers, replacing those in
// memory: at start, and when a standby monitor takes over from one that
// went on counting meanwhile (CONTRACT §15). Readings taken before are
// forgotten; those held (Hold) are applied after, in order.
func (r *Rollup) LoadRegisters(ctx context.Context) error {
	// Sized first: grown as they came, the map and the slice were half
	// the CPU of loading 2,000,000 registers (docs/performance.md,
	// "Restart, seventh round").
	n, err := r.opts.Store.CountMeterRegisters(ctx)
	if err != nil {
		return fmt.Errorf("history: load meter registers: %w", err)
	}
	meters := newMeters(n)
	var household string // the rows of a household come one after another
	var hh uint64
	err = r.opts.Store.EachMeterRegister(ctx, func(m MeterRegister) error {
		if m.HouseholdID != household {
			household, hh = m.HouseholdID, meters.hash(m.HouseholdID)
		}
		meters.add(meters.hash(m.DeviceID), stateOf(hh, m.Field, m.Meter))
		return nil
	})
	if err != nil {
		return fmt.Errorf("history: load meter registers: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meters = meters
	for _, c := range r.held {
		if c.forget != "" {
			r.forget(c.forget)
		} else {
			r.add(c.sample)
		}
	}
	r.held, r.holding, r.heldFull = nil, false, false
	r.flushIfFull()
	return nil
}

// Reading adds an accepted reading to the roll-up. It never blocks on I/O.
func (r *Rollup) Reading(rd rules.Reading) {
	c, ok := sampleOf(rd)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.holding {
		r.add(c)
		r.flushIfFull()
		return
	}
	if len(r.held) < maxHeld {
		r.held = append(r.held, heldChange{sample: c})
	} else if !r.heldFull {
		r.heldFull = true
		r.log.Warn("too many readings while the meters' registers load; the rest are left out of the charts", "held", len(r.held))
	}
}

// sample is what a reading brings the roll-up: a meter's register, a
// motion or a door opening.
type sample struct {
	device, household string
	at                time.Time
	value             float64 // the register's
	register, kwh     bool    // a register, of kWh (else of litres)
	motion, door      bool
}

// sampleOf is what rd brings the roll-up; false: nothing.
func sampleOf(rd rules.Reading) (sample, bool) {
	if rd.HouseholdID == "" {
		return sample{}, false
	}
	c := sample{device: rd.DeviceID, household: rd.HouseholdID, at: rd.TS,
		motion: rd.Kind == registry.MotionSensor && rd.Motion != nil && *rd.Motion,
		door:   rd.Kind == registry.DoorSensor && rd.Open != nil && *rd.Open,
	}
	var field string
	field, c.value, c.register = Register(rd)
	c.kwh = field == FieldTotalKWh
	return c, c.register || c.motion || c.door
}

// add adds a sample to the sums. r.mu must be held.
func (r *Rollup) add(c sample) {
	var add Hour
	switch {
	case c.motion:
		add.MotionEvents = 1
	case c.door:
		add.DoorOpenings = 1
	}
	if c.register {
		h := r.meters.hash(c.device)
		i, ok := r.meters.index[h]
		if !ok {
			i = r.meters.add(h, meterState{kwh: c.kwh})
		}
		st := &r.meters.states[i]
		if st.kwh != c.kwh {
			*st = meterState{kwh: c.kwh, dirty: st.dirty}
		}
		st.household = r.meters.hash(c.household)
		m := st.meter()
		before := m.At
		delta, ok := m.Advance(c.at, c.value)
		if !m.At.Equal(before) {
			st.set(m)
			r.meters.changed(i, c.device, c.household)
		}
		if !ok || delta == 0 {
			return
		}
		if c.kwh {
			add.PowerKWh = delta
		} else {
			add.WaterLiters = delta
		}
	}
	hour := c.at.UTC().Truncate(time.Hour)
	k := hourKey{household: c.household, hour: hour.Unix()}
	h := r.pending[k]
	if h == nil {
		h = &Hour{Hour: hour}
		r.pending[k] = h
	}
	addTo(h, add)
}

// flushShare is the share of the meters known that may wait for a flush
// (RollupOptions.FlushAt). A flush writes its rows in the order the store
// keeps them; with 16,384 of 2,000,000 registers a flush, each was still a
// page of its own, with an eighth of them neighbours share pages, and
// SQLite wrote a seventh of the bytes (docs/performance.md, "Thirtieth
// round").
const flushShare = 8

// flushIfFull asks Run for a flush once FlushAt sums or registers wait, or
// an eighth of the meters known. r.mu must be held.
func (r *Rollup) flushIfFull() {
	if len(r.pending)+len(r.meters.dirty) >= max(r.opts.FlushAt, len(r.meters.index)/flushShare) {
		select {
		case r.full <- struct{}{}:
		default: // asked already
		}
	}
}

// TaskChanged does nothing: the roll-up keeps readings only.
func (r *Rollup) TaskChanged(TaskEvent) {}

func addTo(h *Hour, x Hour) {
	h.WaterLiters += x.WaterLiters
	h.MotionEvents += x.MotionEvents
	h.DoorOpenings += x.DoorOpenings
	h.PowerKWh += x.PowerKWh
}

// Run writes the sums every FlushInterval, and when FlushAt of them wait,
// and prunes old hours every hour, until ctx ends; then it writes what is
// left once more, within 10 s, and returns. That last write failing is
// logged, as any flush's is, and does not fail the stop: the sums it held
// are lost, and the monitor's stop goes on to write the rules' snapshot,
// which does not depend on them. At 1,000,000 households on PostgreSQL it
// outlasted its 10 s, and the monitor then wrote no snapshot
// (docs/performance.md, "Thirty-fifth round").
func (r *Rollup) Run(ctx context.Context) error {
	flush := time.NewTicker(r.opts.FlushInterval)
	defer flush.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	r.prune(ctx)
	// nil after a failed flush until the next tick: a failing store is
	// not tried again at every reading.
	full := r.full
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := r.Flush(final); err != nil {
				r.log.Error("readings roll-up not written at the stop: the sums since the last flush are lost", "err", err)
			}
			return nil
		case <-flush.C:
			full = r.flushOrLog(ctx)
		case <-full:
			full = r.flushOrLog(ctx)
		case <-prune.C:
			r.prune(ctx)
		}
	}
}

// flushOrLog flushes and returns the channel of early flushes, nil when
// the flush failed.
func (r *Rollup) flushOrLog(ctx context.Context) chan struct{} {
	err := r.Flush(ctx)
	if err == nil {
		return r.full
	}
	if ctx.Err() == nil {
		r.log.Error("write readings roll-up; retrying at the next flush", "err", err)
	}
	return nil
}

// flushChunk is about how many rows (household-hours and registers) one
// transaction of a flush writes: it ends at the first household past it. The
// store has one writer, and the rules' commits, which hold the devices'
// PUBACKs, and a fall's task wait for it: a flush in one transaction held
// them up for its whole length, and at a million households a transaction
// of 1,024 rows held a fall's task up to 50 ms (docs/performance.md,
// "Twenty-fourth round"). As many as a commit of the rules' states.
const flushChunk = 256

// Flush writes the sums gathered since the last flush, in household order
// and in transactions of about flushChunk rows, each household's sums with
// its meters' registers. On failure the sums and registers not written are
// kept, and the next flush writes them with what came since.
func (r *Rollup) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.writeMu.Lock()
	r.mu.Lock()
	pending := r.pending
	r.pending = make(map[hourKey]*Hour)
	meters := r.meters.takeDirty()
	r.mu.Unlock()
	hours := make([]HouseholdHour, 0, len(pending))
	for k, h := range pending {
		hours = append(hours, HouseholdHour{HouseholdID: k.household, Hour: *h})
	}
	slices.SortFunc(hours, func(a, b HouseholdHour) int {
		return cmp.Or(strings.Compare(a.HouseholdID, b.HouseholdID), a.Hour.Hour.Compare(b.Hour.Hour))
	})
	slices.SortFunc(meters, func(a, b MeterRegister) int {
		return cmp.Or(strings.Compare(a.HouseholdID, b.HouseholdID), strings.Compare(a.DeviceID, b.DeviceID))
	})
	r.unwritten, r.unwrittenMeters = hours, meters
	r.writeMu.Unlock()
	for {
		if done, err := r.writeChunk(ctx); done || err != nil {
			return err
		}
	}
}

// writeChunk writes the next transaction of the flush under way, and says
// whether the flush is done.
func (r *Rollup) writeChunk(ctx context.Context) (bool, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	hours, meters := r.unwritten, r.unwrittenMeters
	if len(hours) == 0 && len(meters) == 0 {
		return true, nil
	}
	h, m := 0, 0
	for (h < len(hours) || m < len(meters)) && h+m < flushChunk {
		household := nextHousehold(hours[h:], meters[m:])
		for h < len(hours) && hours[h].HouseholdID == household {
			h++
		}
		for m < len(meters) && meters[m].HouseholdID == household {
			m++
		}
	}
	if err := r.opts.Store.AddReadingHours(ctx, hours[:h], meters[:m]); err != nil {
		r.flushErrors.Inc()
		r.keep(hours, meters)
		r.unwritten, r.unwrittenMeters = nil, nil
		return true, fmt.Errorf("history: write roll-up: %w", err)
	}
	r.unwritten, r.unwrittenMeters = hours[h:], meters[m:]
	return false, nil
}

// nextHousehold is the first household, in household order, of hours and
// meters: both in that order, not both empty.
func nextHousehold(hours []HouseholdHour, meters []MeterRegister) string {
	switch {
	case len(hours) == 0:
		return meters[0].HouseholdID
	case len(meters) == 0:
		return hours[0].HouseholdID
	}
	return min(hours[0].HouseholdID, meters[0].HouseholdID)
}

// hoursOf is the hours of household among hours, which are sorted by
// household.
func hoursOf(hours []HouseholdHour, household string) []HouseholdHour {
	i, _ := slices.BinarySearchFunc(hours, household, func(h HouseholdHour, id string) int { return strings.Compare(h.HouseholdID, id) })
	j := i
	for j < len(hours) && hours[j].HouseholdID == household {
		j++
	}
	return hours[i:j]
}

// keep puts back what a flush could not write.
func (r *Rollup) keep(hours []HouseholdHour, meters []MeterRegister) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hours {
		k := hourKey{household: h.HouseholdID, hour: h.Hour.Hour.Unix()}
		if cur := r.pending[k]; cur != nil {
			addTo(cur, h.Hour)
		} else {
			r.pending[k] = &h.Hour
		}
	}
	for _, m := range meters {
		// Unless read again meanwhile, under the ids of that reading.
		if i, ok := r.meters.index[r.meters.hash(m.DeviceID)]; ok && r.meters.states[i].dirty == 0 {
			r.meters.changed(i, m.DeviceID, m.HouseholdID)
		}
	}
}

func (r *Rollup) prune(ctx context.Context) {
	now := r.opts.Clock.Now()
	if now.IsZero() {
		return // the event clock has not started
	}
	n, err := r.opts.Store.PruneReadingHours(ctx, now.Add(-r.opts.Retention).Truncate(time.Hour))
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("prune readings roll-up", "err", err)
		}
		return
	}
	if n > 0 {
		r.log.Debug("readings roll-up pruned", "hours", n)
	}
}

// Chart answers a household's chart from the stored roll-up and the sums
// not yet flushed, so an operator sees a reading as soon as it is accepted.
func (r *Rollup) Chart(ctx context.Context, householdID string, from, to time.Time) (Chart, error) {
	if !to.After(from) {
		return Chart{Source: SourceRollup, From: from, To: to, Hours: []Hour{}}, nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	stored, err := r.opts.Store.ReadingHours(ctx, householdID, from, to)
	if err != nil {
		return Chart{}, fmt.Errorf("history: read roll-up: %w", err)
	}
	hours := NewHours(from, to)
	for _, h := range stored {
		hours.Add(h)
	}
	for _, h := range hoursOf(r.unwritten, householdID) {
		hours.Add(h.Hour)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for at := from.UTC().Truncate(time.Hour); at.Before(to); at = at.Add(time.Hour) {
		if h := r.pending[hourKey{household: householdID, hour: at.Unix()}]; h != nil {
			hours.Add(*h)
		}
	}
	return Chart{Source: SourceRollup, From: from, To: to, Hours: hours.Hours()}, nil
}

// Forget drops what the roll-up holds in memory of a household, when it is
// erased, what the flush under way has not written of it included. Its
// stored rows went with the household's (store.DeleteHousehold sweeps every
// table with a household_id column), but a transaction of the flush being
// written meanwhile can have put some back: Forget lets it finish, then
// deletes the household's stored rows once more. No later transaction
// holds the household, and no reading of it comes after (the caller's
// part), so charts and the flush need not wait for that deletion.
func (r *Rollup) Forget(ctx context.Context, householdID string) error {
	r.writeMu.Lock()
	r.unwritten = slices.DeleteFunc(r.unwritten, func(h HouseholdHour) bool { return h.HouseholdID == householdID })
	r.unwrittenMeters = slices.DeleteFunc(r.unwrittenMeters, func(m MeterRegister) bool { return m.HouseholdID == householdID })
	r.mu.Lock()
	if r.holding {
		// After the registers, which may hold the household's still.
		r.held = append(r.held, heldChange{forget: householdID})
	}
	r.forget(householdID)
	r.mu.Unlock()
	r.writeMu.Unlock()
	if err := r.opts.Store.DeleteReadingHours(ctx, householdID); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// forget drops a household's sums and meters. r.mu must be held.
func (r *Rollup) forget(householdID string) {
	for k := range r.pending {
		if k.household == householdID {
			delete(r.pending, k)
		}
	}
	r.meters.forget(householdID)
}

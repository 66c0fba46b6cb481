// Package rules is the streaming rules engine: it keeps per-household state in
// event time, notices what matters (a fall, an SOS press, hours without water
// or movement, a tap left running, a device gone silent) and emits alerts. It
// is pure: no I/O, no clock of its own; time comes in through readings' event
// times and through Advance.
package rules

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// shardCount splits households over independently locked shards so ingest
// workers rarely wait on each other.
const shardCount = 64

// never is a due time that does not come.
const never = math.MaxInt64

// Engine holds the state of every household and evaluates the rules.
// It is safe for concurrent use. Readings may arrive late, repeated or out of
// order: state only moves forward in event time.
type Engine struct {
	cfg    atomic.Pointer[Config]
	loc    *time.Location
	seed   maphash.Seed
	shards [shardCount]shard
	// started is when the engine was restored (Unix ns), 0 if it was not:
	// silence while the monitor was down proves no sensor dead (health.go).
	started atomic.Int64
	// checkpointing is held while a checkpoint's batch is encoded and
	// written, and by Remove; chunks is the memory it encodes states into,
	// kept for the next one (state.go).
	checkpointing sync.Mutex
	chunks        [][]byte
	// journal, when set, records every reading Process applies (SetJournal).
	journal Journal
	// effective are the configurations households' overrides make of cfg.
	effective effectiveConfigs
}

type shard struct {
	mu         sync.Mutex
	households map[string]*household
	deadlines  deadlineHeap
	// next mirrors the heap's earliest due time, so Advance passes over a
	// shard with nothing due without taking its lock.
	next  atomic.Int64
	dirty []*household
	// block is where the shard's next households are allocated
	// (householdBlock).
	block []household
	// online counts the shard's devices that are up (household.online), kept
	// as they change so that eldersafe_devices_online walks no household.
	online atomic.Int64
}

// NewEngine returns an engine running cfg. Households without a time zone of
// their own are in loc.
func NewEngine(cfg Config, loc *time.Location) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rules config: %w", err)
	}
	if loc == nil {
		return nil, errors.New("rules: a default time zone is required")
	}
	e := &Engine{seed: maphash.MakeSeed(), loc: loc}
	e.cfg.Store(&cfg)
	for i := range e.shards {
		e.shards[i].households = make(map[string]*household)
		e.shards[i].next.Store(never)
	}
	return e, nil
}

// Config is the global configuration in force.
func (e *Engine) Config() Config { return *e.cfg.Load() }

// SetConfig replaces the global thresholds, e.g. when the config file changes.
// Households with overrides keep them on top of the new values, and every
// countdown is looked at again, since a lower threshold may bring it due.
func (e *Engine) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("rules config: %w", err)
	}
	global := &cfg
	e.cfg.Store(global)
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.households {
			if h.settings != nil && h.settings.overrides != nil {
				eff, err := e.effective.get(global, h.settings.overrides)
				if err != nil {
					// Overrides were checked when set and each parameter is
					// bounded on its own, so this cannot happen; keep the old.
					continue
				}
				h.settings.cfg = eff
			}
			e.rearm(s, h, h.newest, global)
		}
		s.mu.Unlock()
	}
	return nil
}

// Period is a span of time, e.g. a household's away period.
type Period struct {
	From, Until time.Time
}

// Settings are what an operator set for one household.
type Settings struct {
	// Location is the household's time zone; nil means the engine's default.
	Location *time.Location
	// Overrides replace global thresholds for this household.
	Overrides Thresholds
	// Away periods suppress welfare rules while they last.
	Away []Period
}

// SetHousehold applies a household's settings. Overrides are validated first;
// on error nothing changes.
func (e *Engine) SetHousehold(id string, st Settings) error {
	s := e.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Under the lock: a reload (SetConfig) then either sees these overrides
	// or has already stored the global config they are applied to.
	global := e.cfg.Load()
	var eff *Config
	if len(st.Overrides) > 0 {
		var err error
		if eff, err = e.effective.get(global, st.Overrides); err != nil {
			return fmt.Errorf("household %s thresholds: %w", id, err)
		}
	}
	if st.Location != nil && st.Location.String() == e.loc.String() {
		// A zone the same as the default is no zone: a city's households
		// are often registered with the city's own, and a million
		// settings that say nothing would cost memory and a restart.
		st.Location = nil
	}
	h := s.household(id)
	if st.Location == nil && eff == nil && len(st.Away) == 0 {
		h.settings = nil
	} else {
		h.settings = &settings{cfg: eff, overrides: st.Overrides, loc: st.Location, away: periods(st.Away)}
	}
	e.rearm(s, h, h.newest, global)
	return nil
}

// Remove forgets a household and everything the engine knew of it, e.g.
// when it is deleted. Its pending deadlines are left in the heap and
// recognised as stale when they come due.
func (e *Engine) Remove(id string) {
	// Not while a checkpoint's batch is being written: encoded before the
	// removal, it would save the state after the caller deleted it.
	e.checkpointing.Lock()
	defer e.checkpointing.Unlock()
	s := e.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.households[id]; h != nil {
		s.remove(id, h)
	}
}

// remove forgets household h of id; the caller holds s.mu.
func (s *shard) remove(id string, h *household) {
	s.online.Add(-int64(h.online()))
	delete(s.households, id)
	// Its block outlives it: what it knew goes now, not with the block.
	*h = household{armed: removed}
}

// RemoveUnless forgets every household keep says no to, as Remove does:
// a standby, following the store, learns of an erasure only as a household
// no longer registered. keep is called under a shard's lock.
func (e *Engine) RemoveUnless(keep func(householdID string) bool) {
	e.checkpointing.Lock()
	defer e.checkpointing.Unlock()
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for id, h := range s.households {
			if !keep(id) {
				s.remove(id, h)
			}
		}
		s.mu.Unlock()
	}
}

// removed marks a forgotten household: no heap entry is due at it.
const removed = -1

// Effective is the configuration in force for a household.
func (e *Engine) Effective(id string) Config {
	global := e.cfg.Load()
	s := e.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.households[id]; h != nil {
		return *h.config(global)
	}
	return *global
}

// ExpectDevice makes the engine expect messages from a registered device
// from at on, so one that never speaks still goes offline (a zero at waits
// for its first message; a device the household knows keeps what it
// knows), and sets how often it reports (sd.Every; zero: its kind's
// interval). A device of no known kind is left out. The household's
// countdowns are looked at again only when the device is new to it or its
// interval changed: a start from the store tells the engine of every
// device, and the states it restored first know nearly all of them.
func (e *Engine) ExpectDevice(householdID string, sd SavedDevice, at time.Time) {
	global := e.cfg.Load()
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.household(householdID)
	if d, changed := h.expect(s, sd, at); changed {
		e.rearm(s, h, max(h.newest, d.lastAlive), global)
	}
}

func (e *Engine) shard(householdID string) *shard {
	return &e.shards[maphash.String(e.seed, householdID)%shardCount]
}

// householdBlock is how many households are allocated at once: a million
// of them are four thousand objects for the collector to find, not a
// million, and a restart allocates them in a fraction of the time. As many
// as fit in 32 KiB, the largest size the runtime does not round up to
// whole pages: 256 of them took 40 KiB for 36.
const householdBlock = 32 << 10 / int(unsafe.Sizeof(household{}))

func (s *shard) household(id string) *household {
	h := s.households[id]
	if h == nil {
		if len(s.block) == cap(s.block) {
			s.block = make([]household, 0, householdBlock)
		}
		s.block = append(s.block, household{id: id})
		h = &s.block[len(s.block)-1]
		s.households[id] = h
	}
	return h
}

// Process applies one reading and returns the alerts it causes at once (a
// fall, an SOS press, a low battery, a running tap, a condition clearing).
// Absence rules fire from Advance. With a journal (SetJournal) it records
// the reading, numbered, before it lets the household go.
func (e *Engine) Process(r Reading) []Alert {
	global := e.cfg.Load()
	s := e.shard(r.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.household(r.HouseholdID)
	alerts := e.apply(s, h, r, global)
	if e.journal != nil {
		h.applied = e.journal.Append(r)
	}
	return alerts
}

// apply applies r to h, a household of s (locked).
func (e *Engine) apply(s *shard, h *household, r Reading, global *Config) []Alert {
	cfg := h.config(global)
	up := h.online()
	alerts, rearm := h.apply(r, cfg, e.zone(h))
	s.online.Add(int64(h.online() - up))
	h.dirty(s)
	if rearm || h.armed == 0 {
		e.rearm(s, h, h.newest, global)
	}
	return alerts
}

// Advance fires every deadline due at now and returns the alerts.
func (e *Engine) Advance(now time.Time) []Alert {
	global := e.cfg.Load()
	n := now.UnixNano()
	var alerts []Alert
	for i := range e.shards {
		s := &e.shards[i]
		if s.next.Load() > n {
			continue
		}
		s.mu.Lock()
		for {
			d, ok := s.deadlines.popDue(n)
			if !ok {
				break
			}
			h := d.hh
			if h.armed != d.due {
				continue // superseded by an earlier entry
			}
			h.armed = 0
			up := h.online()
			alerts = append(alerts, h.evaluate(n, e.started.Load(), h.config(global), e.zone(h))...)
			s.online.Add(int64(h.online() - up))
			h.dirty(s)
			s.arm(h, h.nextDue(n, e.started.Load(), h.config(global), e.zone(h)))
		}
		s.next.Store(s.deadlines.earliest())
		s.mu.Unlock()
	}
	return alerts
}

// rearm looks at a household's countdowns again after its state or settings
// changed in a way that may bring a deadline earlier.
func (e *Engine) rearm(s *shard, h *household, now int64, global *Config) {
	s.arm(h, h.nextDue(now, e.started.Load(), h.config(global), e.zone(h)))
}

// arm makes sure a heap entry will wake the household no later than due.
// Later entries are not removed: a popped entry is checked against the
// household's state, so a countdown that restarts costs no heap work.
func (s *shard) arm(h *household, due int64) {
	if due == never || (h.armed != 0 && h.armed <= due) {
		return
	}
	h.armed = due
	s.deadlines.push(deadline{due: due, hh: h})
	if due < s.next.Load() {
		s.next.Store(due)
	}
}

// DefaultLocation is the time zone of the households without one of their own.
func (e *Engine) DefaultLocation() *time.Location { return e.loc }

// Location is a household's time zone: its own, or the default one.
func (e *Engine) Location(householdID string) *time.Location {
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.households[householdID]; h != nil {
		return e.zone(h)
	}
	return e.loc
}

func (e *Engine) zone(h *household) *time.Location {
	if h.settings != nil && h.settings.loc != nil {
		return h.settings.loc
	}
	return e.loc
}

// Retract undoes the firing of an alert whose task could not be stored, so
// the rule fires again at retryAt instead of believing somebody was told.
func (e *Engine) Retract(a Alert, retryAt time.Time) {
	if a.Cleared {
		return
	}
	s := e.shard(a.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[a.HouseholdID]
	if h == nil {
		return
	}
	up := h.online()
	if h.unfire(a.Rule, a.Evidence.DeviceID) {
		s.online.Add(int64(h.online() - up))
		h.dirty(s)
		s.arm(h, retryAt.UnixNano())
	}
}

// OnlineDevices counts the devices that are up: heard from, not saying
// they are offline, and not found silent past their offline threshold by
// the last Advance (it agrees with device_offline, which a late message
// clears too). It reads one counter per shard: a /metrics scrape costs
// the same with a million households as with ten.
func (e *Engine) OnlineDevices() int {
	var n int64
	for i := range e.shards {
		n += e.shards[i].online.Load()
	}
	return int(n)
}

// periods copies and sorts away periods, dropping empty ones.
func periods(ps []Period) []span {
	out := make([]span, 0, len(ps))
	for _, p := range ps {
		if p.Until.After(p.From) {
			out = append(out, span{from: p.From.UnixNano(), until: p.Until.UnixNano()})
		}
	}
	slices.SortFunc(out, func(a, b span) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	return out
}

// Reserve sizes the engine for about n households before they are loaded,
// so that a million are not inserted into maps that grow by doubling and
// rehash every household each time. The maps are made on every core: at
// 1,000,000 households, a tenth of a second of one before /readyz.
func (e *Engine) Reserve(n int) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < shardCount; i += workers {
				s := &e.shards[i]
				s.mu.Lock()
				if len(s.households) == 0 {
					s.households = make(map[string]*household, n/shardCount)
				}
				s.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

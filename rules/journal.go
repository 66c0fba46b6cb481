package rules

// Journal records each reading as Process applies it, so that a
// household's state need not be written before the reading's message is
// acknowledged: a restart replays what was recorded after the state it
// loaded (Replay). Append is called with the household's lock held, so
// one household's records are numbered in the order they were applied.
type Journal interface {
	// Append records r and returns its sequence number, above every one
	// returned before.
	Append(r Reading) uint64
}

// SetJournal has every reading Process applies from now on recorded in j,
// and each household's state remember the last of its readings recorded.
// Call it before the first reading.
func (e *Engine) SetJournal(j Journal) { e.journal = j }

// Replay applies a reading recorded as seq, unless its household's state
// holds it already (seq is not above the last of its readings recorded) or
// its household or device is no longer registered; applied says whether it
// was applied. A restart replays the journal in sequence order, after the
// states are loaded and before any reading comes. Either way the household
// is marked changed: a state that holds the reading may be a snapshot's,
// which the store lacks, and the next checkpoint must write it before the
// journal behind it goes.
func (e *Engine) Replay(seq uint64, r Reading) (alerts []Alert, applied bool) {
	global := e.cfg.Load()
	s := e.shard(r.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[r.HouseholdID]
	if h == nil || h.find(r.DeviceID) < 0 {
		return nil, false
	}
	if seq <= h.applied {
		h.dirty(s)
		return nil, false
	}
	alerts = e.apply(s, h, r, global)
	h.applied = seq
	return alerts, true
}

// Applied is the highest sequence number of a recorded reading any
// household's state holds: a journal opened on this state must number
// its records above it.
func (e *Engine) Applied() uint64 {
	var most uint64
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.households {
			most = max(most, h.applied)
		}
		s.mu.Unlock()
	}
	return most
}

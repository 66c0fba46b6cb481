package app

import (
	"context"
	"sync"
	"time"
)

// Forgetting a deleted household (DELETE /api/v1/households/{id}): the store
// has erased it; the running monitor drops what it still holds in memory and
// closes the doors its devices used.

// goneFor is how long readings of a deleted household are dropped. Only a
// message that passed the device lookup just before the deletion can still
// carry the household, and it is applied within microseconds; afterwards
// the devices are unknown, so a household registered again under the same id
// is not held up for long.
const goneFor = time.Minute

type forgetting struct {
	// mu is held for reading while a reading is applied (rules, tasks,
	// history: accept in history.go), and for writing while a household is
	// marked gone, so that no reading of a deleted household reaches them
	// after they forgot it.
	mu   sync.RWMutex
	gone map[string]time.Time // household id → when it was deleted
	// checkpointMu keeps a checkpoint and forgetting apart, so that a
	// checkpoint taken before the engine forgot a household does not save
	// its state after the row was deleted.
	checkpointMu sync.Mutex
}

// forgetHousehold is the API's Options.Forget: the household's devices are
// dropped by ingest's caches and disconnected from the embedded broker, the
// readings roll-up and the rules engine forget it, and its saved rule state
// is deleted once more. It waits for readings being applied to finish.
func (m *Monitor) forgetHousehold(householdID string, deviceIDs []string) {
	now := time.Now()
	m.forget.mu.Lock()
	if m.forget.gone == nil {
		m.forget.gone = make(map[string]time.Time)
	}
	for id, at := range m.forget.gone {
		if now.Sub(at) > goneFor {
			delete(m.forget.gone, id)
		}
	}
	m.forget.gone[householdID] = now
	m.forget.mu.Unlock()
	// From here on no reading of the household is applied or recorded.

	if m.hist.rollup != nil {
		m.hist.rollup.Forget(householdID)
	}
	if m.hist.influx != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := m.hist.influx.DeleteHousehold(ctx, householdID)
		cancel()
		if err != nil {
			m.log.Error("household deleted, but not its InfluxDB history: erase it by hand (docs/privacy.md)", "household_id", householdID, "err", err)
		}
	}

	if m.pipeline != nil {
		m.pipeline.ForgetDevices(deviceIDs...)
	}
	if m.broker != nil {
		m.broker.DisconnectDevices(deviceIDs...)
	}
	m.forget.checkpointMu.Lock()
	defer m.forget.checkpointMu.Unlock()
	m.engine.Remove(householdID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.db.DeleteRuleState(ctx, householdID); err != nil {
		m.log.Error("household deleted, but its saved rule state is left until the next deletion attempt", "err", err)
	}
}

// deleted reports whether a household was deleted within goneFor. The
// caller holds mu for reading.
func (f *forgetting) deleted(householdID string) bool {
	at, ok := f.gone[householdID]
	return ok && time.Since(at) <= goneFor
}

package dispatch

import (
	"context"
	"sync"
	"time"
)

// goneFor is how long readings of a deleted household are dropped. Only a
// message that passed the device lookup just before the deletion can still
// carry the household, and it is applied within microseconds; afterwards
// its devices are unknown to ingest, so a household registered again under
// the same id is not held up for long.
const goneFor = time.Minute

type forgetting struct {
	// mu is held for reading while a reading is applied (rules, tasks,
	// history), and for writing while a household is marked gone, so that
	// no reading of a deleted household reaches them after they forgot it.
	mu   sync.RWMutex
	gone map[string]time.Time // household id → when it was deleted
	// checkpointMu keeps a checkpoint of chosen households (an alarm's, or
	// with a journal those a commit is asked for: saveHouseholds) and
	// forgetting apart.
	// The engine keeps a group commit's batches and its Remove apart.
	checkpointMu sync.Mutex
}

// Forget drops a deleted household: it waits for its readings being applied
// to finish, then the history erases it, the restart snapshot is shredded,
// the engine forgets it and its saved rule state is deleted once more. The
// store has erased the household already; ingest and the broker forget its
// devices (the caller's part).
func (d *Dispatcher) Forget(ctx context.Context, householdID string) {
	now := time.Now()
	d.forget.mu.Lock()
	if d.forget.gone == nil {
		d.forget.gone = make(map[string]time.Time)
	}
	for id, at := range d.forget.gone {
		if now.Sub(at) > goneFor {
			delete(d.forget.gone, id)
		}
	}
	d.forget.gone[householdID] = now
	d.forget.mu.Unlock()
	// From here on no reading of the household is applied or recorded.

	if err := d.history.Forget(ctx, householdID); err != nil {
		d.log.Error("household deleted, but not its readings history: erase it by hand (docs/privacy.md)", "household_id", householdID, "err", err)
	}
	d.remove(ctx, householdID)
	// Once the engine forgot it, so that no snapshot written later holds
	// it (the caller keeps one being written apart), and outside the locks
	// an alarm's checkpoint takes: at a million households removing the
	// file takes 0.2 s.
	d.shredSnapshot()
	d.checkpointJournalSoon()
}

// remove has the engine forget a deleted household and deletes its saved
// state once more.
func (d *Dispatcher) remove(ctx context.Context, householdID string) {
	// Settings applied while it was being deleted are dropped with it.
	d.settingsMu.Lock()
	defer d.settingsMu.Unlock()
	d.forget.checkpointMu.Lock()
	defer d.forget.checkpointMu.Unlock()
	d.engine.Remove(householdID)
	if err := d.store.DeleteRuleState(ctx, householdID); err != nil {
		d.log.Error("household deleted, but its saved rule state is left until the next deletion attempt", "household_id", householdID, "err", err)
	}
}

// shredSnapshot shreds the snapshot of the last clean stop, which holds
// an erased household's state and devices (or, of an older format, no
// version reads). Little is lost: a start uses
// a snapshot's states only while no rule state was written since (an
// erasure writes one), and its devices only while no device was removed
// (one of a household with devices is); the next clean stop writes
// another.
func (d *Dispatcher) shredSnapshot() {
	if d.snapshot == nil {
		return
	}
	if err := d.snapshot.Shred(); err != nil {
		d.log.Error("restart snapshot not shredded: it holds households erased since, remove it by hand (docs/privacy.md)", "err", err)
	}
}

// deleted reports whether a household was deleted within goneFor. The
// caller holds mu for reading.
func (f *forgetting) deleted(householdID string) bool {
	at, ok := f.gone[householdID]
	return ok && time.Since(at) <= goneFor
}

package app

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
)

// snapshotFile is the restart snapshot in the data directory: written at a
// clean stop, read at start while the store's generations have not moved
// (docs/performance.md, "Restart from a snapshot").
type snapshotFile struct {
	path string
	key  []byte
}

func (m *Monitor) snapshotFile() snapshotFile {
	return snapshotFile{path: m.cfg.SnapshotPath(), key: m.keys.Snapshot}
}

// SnapshotPath is where the restart snapshot is, in the data directory.
func (c Config) SnapshotPath() string { return filepath.Join(c.DataDir, snapshot.FileName) }

func (f snapshotFile) Open() (*snapshot.File, error) {
	return snapshot.Open(f.path, f.key, runtime.GOMAXPROCS(0))
}

func (f snapshotFile) Shred() error { return snapshot.Shred(f.path) }

// saveSnapshot writes the snapshot once every part has stopped, the last
// checkpoint included. Without one (a standby, a failed last write, an
// error) the next start reads the store: slower, never wrong, so a failure
// is only logged.
func (m *Monitor) saveSnapshot() {
	if !m.working.Load() || m.decide == nil || m.pipeline == nil {
		return
	}
	m.erasing.Lock()
	defer m.erasing.Unlock()
	f := m.snapshotFile()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	states, devices, err := m.db.Generations(ctx)
	if err != nil {
		m.log.Error("rules state snapshot not written; the next start reads the store", "err", err)
		return
	}
	// With a journal, the states the stop left unwritten are the
	// snapshot's to keep, and the journal's up to its last record.
	var journaled uint64
	if m.journal != nil {
		if err := m.journal.Flush(); err != nil {
			m.log.Error("rules state snapshot not written; the next start reads the store and the journal", "err", err)
			return
		}
		journaled = m.journal.Written()
	}
	var households, written atomic.Int64
	parts := runtime.GOMAXPROCS(0)
	// The engine's devices are the registered ones (a device goes only
	// with its household); what else ingest knows of them is its cache's
	// image.
	taken := snapshot.Taken{Generation: snapshot.Generation{States: states, Devices: devices}, Journaled: journaled}
	err = snapshot.Write(f.path, f.key, taken, parts, func(part int, yield func(rules.State, []rules.SavedDevice)) error {
		saved := m.decide.SavePart(part, parts, func(st rules.State, known []rules.SavedDevice) bool {
			households.Add(1)
			written.Add(int64(len(known)))
			yield(st, known)
			return true
		})
		if !saved {
			return errors.New("the last write of the rules' state failed")
		}
		return nil
	}, m.pipeline.CacheImage())
	switch {
	case errors.Is(err, snapshot.ErrReplacedNotShredded):
		m.log.Error("rules state snapshot written, but what the one it replaced held may be read back from the disk (docs/privacy.md)", "err", err)
	case err != nil:
		m.log.Error("rules state snapshot not written; the next start reads the store", "err", err)
		return
	}
	m.log.Info("rules state snapshot written", "households", households.Load(), "devices", written.Load(), "generation", states, "device_generation", devices, "journaled", journaled, "took", time.Since(start))
}

// registering is the decision step as the API sees it, with ingest told of
// every device registered too: its first message then costs no store
// lookup, and the snapshot at a clean stop finds it in ingest's cache
// rather than asking the store for each of the devices imported since the
// start (five million after importing a million households).
type registering struct {
	*dispatch.Dispatcher
	m *Monitor
}

func (r registering) DeviceRegistered(d registry.Device) {
	r.Dispatcher.DeviceRegistered(d)
	// working orders the read of the pipeline, made before it is set; a
	// standby registers nothing.
	if r.m.working.Load() {
		r.m.pipeline.Remember(d)
	}
}

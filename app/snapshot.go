package app

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
)

// snapshotFile is the restart snapshot in the data directory: written at a
// clean stop, read at start while the store's generation has not moved
// (docs/performance.md, "Restart from a snapshot").
type snapshotFile struct {
	path string
	key  []byte
}

func (m *Monitor) snapshotFile() snapshotFile {
	return snapshotFile{path: filepath.Join(m.cfg.DataDir, snapshot.FileName), key: m.keys.Snapshot}
}

func (f snapshotFile) Read(ctx context.Context, generation uint64, restore func(rules.State, []registry.Device) error) error {
	return snapshot.Read(ctx, f.path, f.key, generation, runtime.GOMAXPROCS(0), restore)
}

// saveSnapshot writes the snapshot once every part has stopped, the last
// checkpoint included. Without one (a standby, a failed last write, an
// error) the next start reads the store: slower, never wrong, so a failure
// is only logged.
func (m *Monitor) saveSnapshot() {
	if !m.working.Load() || m.decide == nil || m.pipeline == nil {
		return
	}
	f := m.snapshotFile()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	generation, err := m.db.StateGeneration(ctx)
	if err != nil {
		m.log.Error("rules state snapshot not written; the next start reads the store", "err", err)
		return
	}
	var households, written atomic.Int64
	parts := runtime.GOMAXPROCS(0)
	err = snapshot.Write(f.path, f.key, generation, parts, func(part int, yield func(rules.State, []registry.Device)) error {
		var (
			devices []registry.Device
			lookup  error
		)
		saved := m.decide.SavePart(part, parts, func(st rules.State, known []rules.SavedDevice) bool {
			devices = devices[:0]
			for _, sd := range known {
				// Ingest knows its source fields; the engine the expected
				// interval, kept up to date by every change of the device.
				d, err := m.pipeline.Device(ctx, sd.ID)
				var rejected *ingest.RejectError
				if errors.As(err, &rejected) {
					continue // no longer registered
				}
				if err != nil {
					lookup = err
					return false
				}
				d.ExpectedEvery = sd.Every
				devices = append(devices, d)
			}
			households.Add(1)
			written.Add(int64(len(devices)))
			yield(st, devices)
			return true
		})
		if !saved {
			return errors.New("the last write of the rules' state failed")
		}
		return lookup
	})
	if err != nil {
		m.log.Error("rules state snapshot not written; the next start reads the store", "err", err)
		return
	}
	m.log.Info("rules state snapshot written", "households", households.Load(), "devices", written.Load(), "generation", generation, "took", time.Since(start))
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

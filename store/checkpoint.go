package store

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// SQLite's WAL is copied back into the database file (a checkpoint) here, by
// a connection of its own, rather than by the writer after the commit that
// takes the WAL past its threshold, inside that commit. At flat-out speed a
// commit saves a few thousand households' states, a page each among a
// million, so every commit went past SQLite's default 1,000 pages and paid
// for copying them to as many random places in the file and syncing it;
// every PUBACK of the commit waited (docs/performance.md, "Checkpoints
// beside the writer"). Beside the writer, a checkpoint shares only the
// WAL's locks with a commit.
//
// A checkpoint beside a writer that keeps committing never catches up with
// the WAL's end, and only a WAL copied to its end starts again from its
// beginning. So the writer keeps a checkpoint of its own, at
// walRestartPages: by then the background has copied all but its last pass,
// and the writer's copies the rest and lets the WAL restart.

const (
	// checkpointEvery is how often the background checkpoints; with
	// nothing to copy, a checkpoint reads the WAL's header and ends.
	checkpointEvery = 200 * time.Millisecond
	// walRestartPages is the writer's own checkpoint threshold
	// (wal_autocheckpoint): 64 MB of 4 KB pages.
	walRestartPages = 16384
)

// checkpointer runs PASSIVE checkpoints on its own connection until closed.
type checkpointer struct {
	// mu is held while a checkpoint runs. SQLite lets one run at a time
	// and fails another at once, busy handler or not: an erasure's
	// (flushWAL) waits here instead.
	mu     sync.Mutex
	conn   *sql.DB
	logger *slog.Logger
	stop   context.CancelFunc
	done   chan struct{}
}

// startCheckpoints checkpoints the WAL of conn's database every
// checkpointEvery.
func startCheckpoints(conn *sql.DB, logger *slog.Logger) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, logger: logger, stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.checkpoint(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			// The WAL keeps what is not copied, and the writer's own
			// checkpoint still bounds it: said once, not at every tick.
			c.logger.Warn("checkpoint of the store's WAL failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			c.logger.Info("checkpoints of the store's WAL work again")
			failing = false
		}
	}
}

// checkpoint copies what it can of the WAL into the database. PASSIVE
// waits for no reader or writer: it copies the pages no reader still
// needs from the WAL and leaves the rest for the next one.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.conn.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}

// close stops the checkpoints and closes their connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.conn.Close()
}

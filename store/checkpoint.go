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
// beginning, at the first write after it. The writer used to see to that
// itself, at 64 MB (wal_autocheckpoint): copying what the background had
// not and syncing the WAL and the database inside the commit that reached
// the threshold, every PUBACK of the commit waiting, a fall's among them
// (docs/performance.md, "Fifteenth round"). Now the background lets the
// WAL restart: once it holds walRestartFrames, one more pass beside the
// writer leaves only what was committed meanwhile, and a last pass copies
// that on the writer's own connection, between two of its transactions, so
// that the next begins the WAL again.

const (
	// checkpointEvery is how often the background checkpoints; with
	// nothing to copy, a checkpoint reads the WAL's header and ends.
	checkpointEvery = 200 * time.Millisecond
	// walRestartFrames is how many frames (64 MB of 4 KB pages) the WAL
	// holds before the background lets it start again.
	walRestartFrames = 16384
	// walBackstopPages is the writer's own checkpoint threshold
	// (wal_autocheckpoint), should the background fail or readers keep
	// the WAL from restarting: 1 GB.
	walBackstopPages = 262144
)

// checkpointer runs PASSIVE checkpoints on its own connection until closed.
type checkpointer struct {
	// mu is held while a checkpoint runs. SQLite lets one run at a time
	// and fails another at once, busy handler or not: an erasure's
	// (flushWAL) waits here instead.
	mu   sync.Mutex
	conn *sql.DB
	// onWriter runs the pass that lets the WAL restart on the store's
	// writer, between two transactions (DB.onWriter).
	onWriter func(context.Context, func(*sql.Conn) error) error
	// restartFrames is walRestartFrames, lower in tests.
	restartFrames int
	logger        *slog.Logger
	stop          context.CancelFunc
	done          chan struct{}
}

// startCheckpoints checkpoints the WAL of conn's database every
// checkpointEvery; onWriter runs a function on the database's writer.
func startCheckpoints(conn *sql.DB, onWriter func(context.Context, func(*sql.Conn) error) error, logger *slog.Logger) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, onWriter: onWriter, restartFrames: walRestartFrames, logger: logger, stop: stop, done: make(chan struct{})}
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

// checkpoint copies what it can of the WAL into the database, and once the
// WAL holds restartFrames, lets it restart. PASSIVE waits for no reader or
// writer: it copies the pages no reader still needs from the WAL and
// leaves the rest for the next one.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, logged, _, err := walCheckpoint(ctx, c.conn, "PASSIVE")
	if err != nil || logged < c.restartFrames {
		return err
	}
	if _, _, _, err := walCheckpoint(ctx, c.conn, "PASSIVE"); err != nil {
		return err
	}
	return c.onWriter(ctx, func(w *sql.Conn) error {
		_, _, _, err := walCheckpoint(ctx, w, "PASSIVE")
		return err
	})
}

// walCheckpoint runs a checkpoint of mode (PASSIVE, TRUNCATE) on db, a
// *sql.DB or a *sql.Conn: busy is not 0 when readers or a writer kept it
// from copying everything, logged is how many frames the WAL holds, moved
// how many of them are in the database file.
func walCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, mode string) (busy, logged, moved int, err error) {
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &logged, &moved)
	return busy, logged, moved, err
}

// close stops the checkpoints and closes their connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.conn.Close()
}

package sqldb

import (
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints off the writer. In WAL mode SQLite copies the log back into
// the database file (a checkpoint) by itself inside the commit that takes
// the log past 1,000 pages: that commit writes the pages out and syncs the
// log and the file, while every writer of the database waits behind it,
// since they all go through one goroutine (commit.go). In an on-sale that
// goroutine is what every reservation queues on, and each checkpoint it
// ran held up the whole queue.
//
// So the writer's own checkpoints are off (wal_autocheckpoint(0)) and a
// checkpointer runs them on a connection of its own, after commits and at
// most every checkpointEvery: PASSIVE, which copies what no reader still
// needs without taking the write lock, so commits go on meanwhile. Every
// 100 ms cost a flash sale a tenth of its rate (each checkpoint writes the
// pages changed since the last and syncs twice); every second, a cost
// within the host's noise (docs/PERFORMANCE.md), and the log stays short.
//
// The log restarts from its beginning when a write transaction begins on a
// log copied all through. Beside a stream of commits the checkpointer is
// always a few commits behind, so that moment may not come; when the log
// passes catchUpFrames the writer itself, after its next commit, copies the
// rest (little: the checkpointer copied the bulk), as its automatic
// checkpoint did, and the next transaction restarts the log.
// TestCheckpointKeepsTheLogShort holds both to that. A checkpoint that fails
// or stops short (the writer checkpointing at the same moment, another
// process's checkpoint, a reader still on part of the log) is tried again
// after the pause, up to maxRetries times, and after the next commit.
const (
	checkpointEvery = time.Second
	maxRetries      = 20
	catchUpFrames   = 4000 // 16 MiB of 4 KiB pages, four times SQLite's own threshold
)

type checkpointer struct {
	db    *sql.DB
	nudge chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	// long says the last checkpoint found more than catchUpFrames in the
	// log: the writer copies the rest after its next commit.
	long atomic.Bool
	// commits is the committer's count of commits. For the tests, fullAt
	// is what it was when the last checkpoint that copied the whole log
	// began: every commit up to it is in the file.
	commits *atomic.Int64
	fullAt  atomic.Int64
}

func newCheckpointer(db *sql.DB, commits *atomic.Int64) *checkpointer {
	c := &checkpointer{db: db, commits: commits, nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// committed tells the checkpointer the log grew. It runs on the writer's
// goroutine after a commit, with the writer's connection free: it never
// waits for the checkpointer, and checkpoints on the writer only when the
// log has grown long.
func (c *checkpointer) committed(writer *sql.DB) {
	if c.long.CompareAndSwap(true, false) {
		// Errors are the checkpointer's to retry; this only shortens the log.
		writer.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	pause := time.NewTimer(checkpointEvery)
	pause.Stop()
	retries := 0
	for {
		if retries == 0 {
			select {
			case <-c.nudge:
			case <-c.stop:
				return
			}
		}
		seen := c.commits.Load()
		var busy, logFrames, copied int
		err := c.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied)
		if err == nil && busy == 0 && copied == logFrames {
			c.fullAt.Store(seen)
			retries = 0
		} else if retries++; retries > maxRetries {
			// A reader keeps a snapshot that old: wait for more commits.
			retries = 0
		}
		if err == nil && logFrames > catchUpFrames {
			c.long.Store(true)
		}
		// The pause bounds how often the file is synced under a stream of
		// commits; the commits made meanwhile are copied by the next run.
		pause.Reset(checkpointEvery)
		select {
		case <-pause.C:
		case <-c.stop:
			return
		}
	}
}

// close stops the checkpointer, once the writer has stopped committing, and
// closes its connection; a second call finds both done. The last
// connection of the file to close runs a final checkpoint, as SQLite
// always does.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}

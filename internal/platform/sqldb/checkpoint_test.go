package sqldb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckpointKeepsTheLogShort: no commit checkpoints (the writer's
// automatic checkpoint is off, so no commit waits for one), and the
// checkpointer does, so the log restarts from its beginning instead of
// growing: after each quiet moment, and, under a stream of commits from
// several writers, once it passes catchUpFrames. Without the checkpointer
// the log of three rounds is three times one round's; without the catch-up
// the stream's log is the whole stream's.
func TestCheckpointKeepsTheLogShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	db, err := Open(context.Background(), Config{Path: path, Migrations: []Migrations{cacheMigrations}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()

	var auto int
	if err := db.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("the writer checkpoints every %d pages itself, want 0 (the checkpointer's job)", auto)
	}

	var next atomic.Int64
	// write commits a transaction of about 400 pages of log.
	write := func() error {
		return db.WithTx(ctx, func(tx *Tx) error {
			for range 250 {
				id := next.Add(1)
				if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`,
					id, fmt.Sprintf("%d-%s", id, strings.Repeat("x", 2000))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// round commits about 1,600 pages, past SQLite's own threshold, and
	// waits for a checkpoint begun after the last commit to copy the log.
	round := func(r int) {
		t.Helper()
		for range 4 {
			if err := write(); err != nil {
				t.Fatal(err)
			}
		}
		last := db.group.commits.Load()
		deadline := time.Now().Add(20 * time.Second)
		for db.group.checkpoints.fullAt.Load() < last {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no checkpoint copied the log within 20 s", r)
			}
			time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
		}
	}
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	round(1)
	first := walSize()
	for r := 2; r <= 3; r++ {
		round(r)
	}
	if got := walSize(); got > first+first/2 {
		t.Fatalf("the log grew from %d bytes after one round to %d after three: it is not restarted", first, got)
	}

	// A stream: three writers, 30 transactions, about 12,000 pages.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			for range 10 {
				if err := write(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const bound = 2 * catchUpFrames * 4096
	if got := walSize(); got > bound {
		t.Errorf("a stream of commits left a log of %d bytes, want at most %d: the writer never caught up", got, bound)
	}
}

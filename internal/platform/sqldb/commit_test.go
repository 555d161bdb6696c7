package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// testCancels are the cancel functions test_cancel(name) calls.
var testCancels sync.Map

// registerTestCancel registers test_cancel(name), which ends the context
// stored under name in testCancels from inside a running statement.
var registerTestCancel = sync.OnceValue(func() error {
	return sqlite.RegisterScalarFunction("test_cancel", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if cancel, ok := testCancels.Load(args[0]); ok {
			cancel.(func())()
		}
		return "cancelled", nil
	})
})

// holdWriter starts a transaction that holds SQLite's writer until the
// returned function is called, so the calls made meanwhile queue up and
// run as one group.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.WithTx(context.Background(), func(*Tx) error {
			close(started)
			<-gate
			return nil
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("the holding transaction: %v", err)
		}
	}
}

// waitQueued waits until n callers wait for the writer.
func waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		waiting := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			// Blocked in do's select, sending to the queue.
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "[select") && strings.Contains(g, "sqldb.(*committer).do(") {
				waiting++
			}
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers never queued for the writer", n)
		}
		runtime.Gosched()
	}
}

// Transactions queued together commit as one, and each caller still gets
// its own outcome: a function that fails, breaks a unique index or panics
// rolls back alone, its hooks never run, and the others' writes commit
// with their hooks run once.
func TestGroupCommit(t *testing.T) {
	db := openCacheTest(t)
	ctx := context.Background()
	boom := errors.New("boom")
	insert := func(id int, name string) func(*Tx) error {
		return func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, id, name)
			return err
		}
	}
	type outcome struct {
		err      error
		panicked any
		hooks    int
	}
	cases := []struct {
		name    string
		fn      func(*Tx) error
		want    error // nil: committed
		panics  bool
		stored  bool
		storeID int
	}{
		{name: "first", fn: insert(1, "a"), stored: true, storeID: 1},
		{name: "fails after writing", fn: func(tx *Tx) error {
			if err := insert(2, "b")(tx); err != nil {
				return err
			}
			return boom
		}, want: boom, storeID: 2},
		{name: "breaks the unique name", fn: insert(3, "a"), want: ErrConflict, storeID: 3},
		{name: "panics after writing", fn: func(tx *Tx) error {
			if err := insert(4, "d")(tx); err != nil {
				return err
			}
			panic("oops")
		}, panics: true, storeID: 4},
		{name: "reads what the first wrote", fn: func(tx *Tx) error {
			var name string
			if err := tx.QueryRowContext(ctx, `SELECT name FROM things WHERE id = 1`).Scan(&name); err != nil {
				return fmt.Errorf("the first's row: %w", err)
			}
			return insert(5, name+"e")(tx)
		}, stored: true, storeID: 5},
		{name: "last", fn: insert(6, "f"), stored: true, storeID: 6},
	}
	before := db.group.commits.Load()
	release := holdWriter(t, db)
	outcomes := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		if i > 0 {
			// In this order: the one before is queued first.
			waitQueued(t, i)
		}
		wg.Go(func() {
			defer func() { outcomes[i].panicked = recover() }()
			outcomes[i].err = db.WithTx(ctx, func(tx *Tx) error {
				tx.OnCommit(func() { outcomes[i].hooks++ })
				return tc.fn(tx)
			})
		})
	}
	waitQueued(t, len(cases))
	release()
	wg.Wait()
	if got := db.group.commits.Load() - before; got != 2 {
		t.Errorf("%d commits, want 2: the holder's and one for the %d queued", got, len(cases))
	}
	for i, tc := range cases {
		o := outcomes[i]
		if (o.panicked != nil) != tc.panics {
			t.Errorf("%s: panic %v, want a panic: %v", tc.name, o.panicked, tc.panics)
		}
		if tc.want == nil && o.err != nil || tc.want != nil && !errors.Is(o.err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, o.err, tc.want)
		}
		if want := map[bool]int{true: 1}[tc.stored]; o.hooks != want {
			t.Errorf("%s: hooks ran %d times, want %d", tc.name, o.hooks, want)
		}
		var n int
		if err := db.Read().QueryRow(`SELECT COUNT(*) FROM things WHERE id = $1`, tc.storeID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != tc.stored {
			t.Errorf("%s: its row stored: %v, want %v", tc.name, n == 1, tc.stored)
		}
	}
}

// A caller whose context ends while it waits for the writer gives up at
// once; one whose context ends while its function runs is rolled back alone,
// the others of its group untouched, even when its context ends in the
// middle of a statement; and nobody waits on a closed database.
func TestGroupCommitCancelAndClose(t *testing.T) {
	if err := registerTestCancel(); err != nil { // before the connections open
		t.Fatal(err)
	}
	db := openCacheTest(t)
	release := holdWriter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		gaveUp <- db.WithTx(ctx, func(*Tx) error { return errors.New("ran after its caller gave up") })
	}()
	waitQueued(t, 1)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller cancelled while waiting = %v, want context.Canceled", err)
	}
	release()

	bg := context.Background()
	insert := func(ctx context.Context, tx *Tx, id int) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, id, fmt.Sprint("n", id))
		return err
	}
	// A long write that ends its own context at its tenth row
	// (test_cancel), to end it in the middle of: SQLite rolls back the
	// whole transaction under an interrupted write.
	const long = `INSERT INTO things (id, name) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
		SELECT 1000 + x, CASE WHEN x = 10 THEN test_cancel($1) ELSE 'r' || x END FROM c`
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context, cancel func(), tx *Tx) error
	}{
		{"before a statement", func(ctx context.Context, cancel func(), tx *Tx) error {
			cancel()
			return insert(ctx, tx, 10)
		}},
		{"after its last statement", func(ctx context.Context, cancel func(), tx *Tx) error {
			err := insert(ctx, tx, 10)
			cancel()
			return err
		}},
		{"during a statement", func(ctx context.Context, cancel func(), tx *Tx) error {
			if err := insert(ctx, tx, 10); err != nil {
				return err
			}
			testCancels.Store(t.Name(), cancel)
			defer testCancels.Delete(t.Name())
			_, err := tx.ExecContext(ctx, long, t.Name())
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := holdWriter(t, db)
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			errs := make(chan error, 2)
			go func() { errs <- db.WithTx(ctx, func(tx *Tx) error { return tc.fn(ctx, cancel, tx) }) }()
			waitQueued(t, 1)
			go func() { errs <- db.WithTx(bg, func(tx *Tx) error { return insert(bg, tx, 11) }) }()
			waitQueued(t, 2)
			release()
			var cancelled, others int
			for range 2 {
				switch err := <-errs; {
				case errors.Is(err, context.Canceled):
					cancelled++
				case err == nil:
					others++
				default:
					t.Errorf("WithTx: %v", err)
				}
			}
			if cancelled != 1 || others != 1 {
				t.Errorf("%d cancelled and %d committed, want one of each", cancelled, others)
			}
			var ids []int
			rows, err := db.Read().Query(`SELECT id FROM things WHERE id IN (10, 11) ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			if fmt.Sprint(ids) != "[11]" {
				t.Errorf("stored %v, want only the other caller's 11", ids)
			}
			if _, err := db.write.Exec(`DELETE FROM things WHERE id = 11 OR id > 1000`); err != nil {
				t.Fatal(err)
			}
		})
	}

	db.Close()
	if err := db.WithTx(bg, func(*Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("WithTx on a closed database = %v, want errClosed", err)
	}
}

// A function that ends its goroutine (runtime.Goexit, as a test's t.Fatal
// inside WithTx does) fails its group, not the database: its writes are
// rolled back and the next transactions run.
func TestGroupCommitGoexit(t *testing.T) {
	db := openCacheTest(t)
	ctx := context.Background()
	errs := make(chan error, 1)
	go func() {
		errs <- db.WithTx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES (1, 'a')`); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
	}()
	if err := <-errs; !errors.Is(err, errGoexit) {
		t.Errorf("WithTx whose function called runtime.Goexit = %v, want errGoexit", err)
	}
	for i := range 3 {
		err := db.WithTx(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, 10+i, fmt.Sprint("b", i))
			return err
		})
		if err != nil {
			t.Fatalf("WithTx after the Goexit: %v", err)
		}
	}
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM things`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d rows (%v), want the 3 written after the Goexit", n, err)
	}
}

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Group commit for SQLite. A SQLite file has one writer at a time, so write
// transactions queue anyway; each then pays its own BEGIN, its own WAL
// frames and its own COMMIT, which in an on-sale cost more CPU than the
// statements themselves (every win sets off a transaction in each of five
// parts). So the transactions waiting for the writer run together: one
// goroutine per database takes whatever is queued (up to maxGroup), runs
// each function in a savepoint of one transaction and commits once.
//
// What each caller sees is unchanged: its function's writes commit or roll
// back alone (an error or a panic rolls back to its savepoint, and the
// others go on), WithTx returns only once they are committed, and its
// OnCommit hooks run after that commit, on its own goroutine. A commit that
// fails fails every function of the group, as it would have failed each.
//
// A caller's context ending rolls back its function alone, as it rolled back
// its own transaction before: it gives up at once while it waits for the
// writer, is skipped if its context has ended by its turn, and once its
// function runs, the statements after the end are refused and its savepoint
// rolled back. But a statement already running is not interrupted
// (Tx.detached): an interrupted SQLite statement rolls back the whole
// transaction, and one caller giving up must not undo the others' work.

// maxGroup bounds the functions one transaction runs, so a long queue
// commits in steps rather than holding the writer for all of it.
const maxGroup = 64

// txRequest is one WithTx call waiting for the writer.
type txRequest struct {
	ctx    context.Context
	fn     func(*Tx) error
	result chan txResult
}

// txResult is what the writer hands back: the function's error (or the
// commit's), its panic if it panicked, and the hooks to run.
type txResult struct {
	err      error
	panicked bool
	panicVal any
	onCommit []func()
}

// ok reports whether the function succeeded: its writes stay in the
// transaction.
func (r txResult) ok() bool { return r.err == nil && !r.panicked }

// committer runs the queued write transactions of one SQLite database.
type committer struct {
	db        *sql.DB
	queue     chan *txRequest
	closing   chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	// commits counts the transactions committed, for the tests.
	commits atomic.Int64
	// checkpoints, if set, is told of each commit (checkpoint.go).
	checkpoints *checkpointer
}

var errClosed = errors.New("sqldb: database closed")

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, queue: make(chan *txRequest), closing: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// do queues fn and waits for its outcome.
func (c *committer) do(ctx context.Context, fn func(*Tx) error) error {
	r := &txRequest{ctx: ctx, fn: fn, result: make(chan txResult, 1)}
	select {
	case c.queue <- r:
	case <-ctx.Done():
		return fmt.Errorf("sqldb: begin: %w", ctx.Err())
	case <-c.closing:
		return errClosed
	}
	res := <-r.result
	if res.panicked {
		panic(res.panicVal)
	}
	if res.err != nil {
		return res.err
	}
	for _, f := range res.onCommit {
		f()
	}
	return nil
}

func (c *committer) close() {
	c.closeOnce.Do(func() { close(c.closing) })
	<-c.stopped
}

func (c *committer) loop() {
	group := make([]*txRequest, 0, maxGroup)
	for {
		select {
		case r := <-c.queue:
			group = append(group[:0], r)
		case <-c.closing:
			close(c.stopped)
			return
		}
		// Let the goroutines that are runnable (the callers the last
		// commit answered, the handlers of what it set off) reach the
		// queue first: under load this more than doubles a group (an
		// on-sale on up: 1.3-1.9 functions per commit became about 4),
		// and a commit costs more CPU than a function. Idle, nothing is
		// runnable and this costs a call.
		runtime.Gosched()
	more:
		for len(group) < maxGroup {
			select {
			case r := <-c.queue:
				group = append(group, r)
			default:
				break more
			}
		}
		c.run(group)
		clear(group)
	}
}

// errGoexit answers a group whose function ended the committer's goroutine.
var errGoexit = errors.New("sqldb: a transaction's function ended its goroutine (runtime.Goexit); nothing of its group was committed")

// run runs one group in one transaction and hands each caller its result.
func (c *committer) run(group []*txRequest) {
	results := make([]txResult, len(group))
	live := 0 // the functions whose writes are in the transaction
	var stx *sql.Tx
	delivered := false // false in the deferred check: the goroutine is ending
	defer func() {
		// A panic is caught by call; only runtime.Goexit (a test's t.Fatal
		// inside WithTx, which ran on the caller's goroutine before the
		// group commit) gets here: answer the group, and let a new
		// goroutine take the queue over.
		if !delivered {
			if stx != nil {
				stx.Rollback()
			}
			for i := range results {
				results[i] = txResult{err: errGoexit}
			}
			c.deliver(group, results)
			go c.loop()
		}
	}()
	answer := func() {
		c.deliver(group, results)
		delivered = true
	}
	var err error
	stx, err = c.db.BeginTx(context.WithoutCancel(group[0].ctx), nil)
	if err != nil {
		err = fmt.Errorf("sqldb: begin: %w", Err(err))
		for i := range group {
			results[i].err = err
		}
		answer()
		return
	}
	savepoints := len(group) > 1
	broken := error(nil) // the transaction was lost under a function
	for i, r := range group {
		if broken != nil {
			results[i].err = broken
			continue
		}
		if err := r.ctx.Err(); err != nil {
			results[i].err = fmt.Errorf("sqldb: begin: %w", err)
			continue
		}
		if savepoints {
			if _, err := stx.Exec("SAVEPOINT grouped"); err != nil {
				broken = fmt.Errorf("sqldb: savepoint: %w", Err(err))
				results[i].err = broken
				continue
			}
		}
		tx := &Tx{Tx: stx, engine: SQLite, detached: true}
		results[i] = call(r.fn, tx)
		if err := r.ctx.Err(); err != nil && results[i].ok() {
			// As a transaction of its own would have been, by database/sql.
			results[i].err = fmt.Errorf("sqldb: commit: %w", err)
		}
		if results[i].ok() {
			results[i].onCommit = tx.onCommit
			live++
			if savepoints {
				if _, err := stx.Exec("RELEASE grouped"); err != nil {
					broken = fmt.Errorf("sqldb: release savepoint: %w", Err(err))
				}
			}
			continue
		}
		if savepoints {
			if _, err := stx.Exec("ROLLBACK TO grouped; RELEASE grouped"); err != nil {
				broken = fmt.Errorf("sqldb: roll back to savepoint: %w", Err(err))
			}
		}
	}
	if broken == nil && live > 0 {
		if err := stx.Commit(); err != nil {
			broken = fmt.Errorf("sqldb: commit: %w", Err(err))
		} else {
			c.commits.Add(1)
			if c.checkpoints != nil {
				c.checkpoints.committed(c.db)
			}
		}
	} else {
		stx.Rollback()
	}
	if broken != nil {
		// Nothing of the group was committed: every function that had
		// succeeded fails too, as its own commit would have.
		for i := range results {
			if results[i].ok() {
				results[i] = txResult{err: broken}
			}
		}
	}
	answer()
}

func (c *committer) deliver(group []*txRequest, results []txResult) {
	for i, r := range group {
		r.result <- results[i]
	}
}

// call runs fn, catching its panic for the caller to re-raise.
func call(fn func(*Tx) error, tx *Tx) (res txResult) {
	defer func() {
		if p := recover(); p != nil {
			res = txResult{panicked: true, panicVal: p}
		}
	}()
	if err := fn(tx); err != nil {
		// fn's driver errors are translated too, so a service checking
		// errors.Is(err, ErrConflict) after WithTx sees the conflict.
		return txResult{err: Err(err)}
	}
	return txResult{}
}

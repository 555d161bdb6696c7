package orders_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestReserveLoserTakesNoWrite: an attempt bound to lose is answered from a
// read while the write path is held by someone else, so in a flash sale
// losers neither queue behind SQLite's one writer nor open a PostgreSQL
// transaction. Without the read first, each case below waits for the write
// path until its deadline.
func TestReserveLoserTakesNoWrite(t *testing.T) {
	cases := []struct {
		name string
		// setup leaves ticket "t1" (seller "seller") so that "buyer" loses.
		setup func(t *testing.T, f *fixture)
		want  error
	}{
		{
			name: "held by an unpaid order the replica has not heard of",
			setup: func(t *testing.T, f *fixture) {
				if _, err := f.svc.Reserve(context.Background(), "winner", "t1", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: orders.ErrTicketReserved,
		},
		{
			name:  "replica says reserved",
			setup: func(t *testing.T, f *fixture) { setStatus(t, f, events.TicketReserved) },
			want:  orders.ErrTicketReserved,
		},
		{
			name:  "replica says sold",
			setup: func(t *testing.T, f *fixture) { setStatus(t, f, events.TicketSold) },
			want:  orders.ErrTicketNotAvailable,
		},
	}
	for _, engine := range sqldbtest.Engines(t) {
		for _, tc := range cases {
			t.Run(engine.String()+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, sqldbtest.Open(t, engine, migs...), orders.Config{})
				err := f.svc.AddTicket(context.Background(), orders.Ticket{ID: "t1", Title: "Show", Price: 100, UserID: "seller"})
				if err != nil {
					t.Fatal(err)
				}
				tc.setup(t, f)
				holdWritePath(t, f.db, "buyer")
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err = f.svc.Reserve(ctx, "buyer", "t1", "203.0.113.7")
				if !errors.Is(err, tc.want) {
					t.Errorf("reserve = %v, want %v", err, tc.want)
				}
			})
		}
	}
}

// setStatus sets ticket t1's status in the replica, as ticket.updated would.
func setStatus(t *testing.T, f *fixture, status string) {
	t.Helper()
	err := f.db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		_, err := tx.Exec(`UPDATE tickets SET status = $1 WHERE id = 't1'`, status)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// holdWritePath blocks, until the test ends, what a reservation's
// transaction needs first: on SQLite the one writer connection, on
// PostgreSQL the buyer's lock (Store.LockBuyer).
func holdWritePath(t *testing.T, db *sqldb.DB, userID string) {
	t.Helper()
	ctx := context.Background()
	if db.Engine() == sqldb.Postgres {
		conn, err := db.Read().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext($1))`, userID); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, userID)
			conn.Close()
		})
		return
	}
	taken, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		db.WithTx(ctx, func(*sqldb.Tx) error {
			close(taken)
			<-release
			return nil
		})
	}()
	<-taken
	t.Cleanup(func() {
		close(release)
		<-done
	})
}

// TestInsertOrderLostRaceKeepsTransaction: an INSERT that finds the ticket
// held reports sqldb.ErrConflict without the database raising an error, so
// the transaction goes on (on PostgreSQL a unique violation would abort it,
// and log an ERROR, for every loser of a race).
func TestInsertOrderLostRaceKeepsTransaction(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			db := sqldbtest.Open(t, engine, migs...)
			f := newFixture(t, db, orders.Config{})
			f.addTicket(t, "t1", "Show", 100)
			store := orders.NewStore(db)
			ticket := orders.Ticket{ID: "t1", Title: "Show", Price: 100}
			ctx := context.Background()
			var n int
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				if err := store.InsertOrder(ctx, tx, orders.NewOrder("winner", ticket, start, time.Minute)); err != nil {
					return err
				}
				err := store.InsertOrder(ctx, tx, orders.NewOrder("loser", ticket, start, time.Minute))
				if !errors.Is(err, sqldb.ErrConflict) {
					t.Errorf("second insert = %v, want sqldb.ErrConflict", err)
				}
				// Fails with "current transaction is aborted" if the
				// INSERT raised the unique violation.
				return tx.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n)
			})
			if err != nil {
				t.Fatalf("transaction after a lost insert: %v", err)
			}
			if n != 1 {
				t.Errorf("orders = %d, want 1", n)
			}
		})
	}
}

// TestReserveLimitBeforeReserved: answering losers from a read keeps the
// order of the answers: a buyer at a limit hears 429 for a ticket that is
// taken too, whether the replica or only the orders table knows it is.
func TestReserveLimitBeforeReserved(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		for _, replicaKnows := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/replica knows %t", engine, replicaKnows), func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(t, sqldbtest.Open(t, engine, migs...), orders.Config{MaxPending: 1})
				f.addTicket(t, "t1", "Show", 100)
				f.addTicket(t, "t2", "Show", 100)
				for _, r := range []struct{ user, ticket string }{{"bob", "t1"}, {"alice", "t2"}} {
					if _, err := f.svc.Reserve(ctx, r.user, r.ticket, ""); err != nil {
						t.Fatal(err)
					}
				}
				if replicaKnows {
					setStatus(t, f, events.TicketReserved)
				}
				if _, err := f.svc.Reserve(ctx, "alice", "t1", ""); !errors.Is(err, orders.ErrTooManyPending) {
					t.Errorf("alice at her limit reserving bob's ticket = %v, want %v", err, orders.ErrTooManyPending)
				}
			})
		}
	}
}

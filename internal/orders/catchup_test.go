package orders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestReserveWaitsForTicket reserves a ticket the replica has not seen yet
// while its ticket.created is on the way. The bounds make a wrong path
// hang rather than pass: CatchUp is a minute, so a reservation that only
// the bound ends fails the test's own wait; the poll is an hour where the
// case must be woken by AddTicket's signal.
func TestReserveWaitsForTicket(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		reserve := func(f *fixture, userID, ticketID string) <-chan error {
			done := make(chan error, 1)
			go func() {
				_, err := f.svc.Reserve(ctx, userID, ticketID, "")
				done <- err
			}()
			return done
		}
		result := func(t *testing.T, done <-chan error) error {
			t.Helper()
			select {
			case err := <-done:
				return err
			case <-time.After(20 * time.Second):
				t.Fatal("the reservation is still waiting")
				return nil
			}
		}
		waiting := func(t *testing.T, f *fixture, id string) {
			t.Helper()
			natsbustest.Eventually(t, waitFor, "the reservation waits for "+id, func() bool { return orders.Waiters(f.svc, id) == 1 })
		}

		t.Run("woken by AddTicket in this process", func(t *testing.T) {
			f := newFixture(t, db, orders.Config{CatchUp: time.Minute, CatchUpPoll: time.Hour})
			done := reserve(f, "alice", "w1")
			waiting(t, f, "w1")
			f.addTicket(t, "w1", "Show", 1000)
			if err := result(t, done); err != nil {
				t.Fatalf("reserve = %v, want an order", err)
			}
			if n := orders.Waiters(f.svc, "w1"); n != 0 {
				t.Errorf("waiters left = %d", n)
			}
		})

		t.Run("seen by polling when another process adds it", func(t *testing.T) {
			f := newFixture(t, db, orders.Config{CatchUp: time.Minute, CatchUpPoll: 10 * time.Millisecond})
			log := natsbustest.Logger(t)
			other := orders.New(db, outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{}), log, orders.Config{})
			done := reserve(f, "alice", "w2")
			waiting(t, f, "w2")
			if err := other.AddTicket(ctx, orders.Ticket{ID: "w2", Title: "Show", Price: money.Cents(1000)}); err != nil {
				t.Fatal(err)
			}
			if err := result(t, done); err != nil {
				t.Fatalf("reserve = %v, want an order", err)
			}
		})

		t.Run("a known ticket answers at once", func(t *testing.T) {
			f := newFixture(t, db, orders.Config{CatchUp: time.Minute, CatchUpPoll: time.Hour})
			f.addTicket(t, "w3", "Show", 1000)
			if err := result(t, reserve(f, "alice", "w3")); err != nil {
				t.Fatal(err)
			}
			if err := result(t, reserve(f, "bob", "w3")); !errors.Is(err, orders.ErrTicketReserved) {
				t.Fatalf("second reserve = %v, want ErrTicketReserved", err)
			}
		})

		t.Run("an unknown ticket is not found after the bound", func(t *testing.T) {
			const bound = 200 * time.Millisecond
			f := newFixture(t, db, orders.Config{CatchUp: bound})
			began := time.Now()
			if err := result(t, reserve(f, "alice", "w4")); !errors.Is(err, orders.ErrTicketNotFound) {
				t.Fatalf("reserve = %v, want ErrTicketNotFound", err)
			}
			if took := time.Since(began); took < bound {
				t.Errorf("answered after %v, before the bound %v", took, bound)
			}
			if n := orders.Waiters(f.svc, "w4"); n != 0 {
				t.Errorf("waiters left = %d", n)
			}
		})

		t.Run("the request's context ends the wait", func(t *testing.T) {
			f := newFixture(t, db, orders.Config{CatchUp: time.Minute, CatchUpPoll: time.Hour})
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := f.svc.Reserve(cctx, "alice", "w5", "")
				done <- err
			}()
			waiting(t, f, "w5")
			cancel()
			if err := result(t, done); !errors.Is(err, orders.ErrTicketNotFound) {
				t.Fatalf("reserve = %v, want ErrTicketNotFound", err)
			}
		})
	}, migs...)
}

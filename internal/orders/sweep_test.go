package orders_test

import (
	"context"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestSweepExpiresOrdersWhoseScheduleWasLost: an unpaid order whose expiry
// event never comes is expired by the sweep once it is SweepGrace past its
// expiresAt, once: a second sweep, and the expiration.complete arriving
// late, change nothing. A paid order and one still within the grace are
// left alone.
func TestSweepExpiresOrdersWhoseScheduleWasLost(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		clk := clocktest.New(start)
		f := newFixture(t, db, orders.Config{Now: clk.Now, Window: 15 * time.Minute, SweepGrace: time.Minute})
		bus, sp := listening(t, f)
		for _, id := range []string{"t1", "t2", "t3"} {
			f.addTicket(t, id, "Show", 1000)
		}
		lost, err := f.svc.Reserve(ctx, "alice", "t1", "")
		if err != nil {
			t.Fatal(err)
		}
		paid, err := f.svc.Reserve(ctx, "alice", "t2", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, paid.ID, orders.Payment{ID: "pay1"}); err != nil {
			t.Fatal(err)
		}
		sweep := func(want int) {
			t.Helper()
			n, err := f.svc.Sweep(ctx)
			if err != nil || n != want {
				t.Fatalf("sweep at %s: %d orders, %v; want %d", clk.Now().Sub(start), n, err, want)
			}
		}
		status := func(id string) orders.Order {
			t.Helper()
			o, err := f.svc.Order(ctx, "alice", id)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}

		sweep(0) // nothing is due
		clk.Advance(15*time.Minute + 30*time.Second)
		later, err := f.svc.Reserve(ctx, "alice", "t3", "") // due long after the others
		if err != nil {
			t.Fatal(err)
		}
		sweep(0) // past expiresAt, within the grace: the event's turn
		if o := status(lost.ID); o.Status != orders.StatusCreated {
			t.Fatalf("order within the grace is %s", o.Status)
		}

		clk.Advance(time.Minute)
		sweep(1)
		o := status(lost.ID)
		if o.Status != orders.StatusCancelled || o.CancelledBy != events.CancelledByExpiry || o.Version != 1 {
			t.Errorf("swept order = %s by %q v%d, want cancelled by expiry v1", o.Status, o.CancelledBy, o.Version)
		}
		if o := status(paid.ID); o.Status != orders.StatusComplete {
			t.Errorf("paid order = %s, want complete", o.Status)
		}
		if o := status(later.ID); o.Status != orders.StatusCreated {
			t.Errorf("order not yet due = %s, want created", o.Status)
		}
		sweep(0)

		// The expiry event, delayed rather than lost, arrives after all.
		ev := events.ExpirationComplete{OrderID: lost.ID}
		publish(t, bus, ev)
		natsbustest.Eventually(t, waitFor, "the late expiry acked", func() bool { return sp.count(t, ev, true) == 1 })
		if o := status(lost.ID); o.Version != 1 {
			t.Errorf("order after the late expiry: v%d, want v1", o.Version)
		}
		if n := outboxCount(t, db, events.SubjectOrderCancelled); n != 1 {
			t.Errorf("%d order.cancelled events, want 1", n)
		}
	}, migs...)
}

// TestSweepAfterExpiryEventChangesNothing: the normal path first, then
// the sweep: it finds nothing to do.
func TestSweepAfterExpiryEventChangesNothing(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		clk := clocktest.New(start)
		f := newFixture(t, db, orders.Config{Now: clk.Now, Window: time.Minute, SweepGrace: time.Minute})
		f.addTicket(t, "t1", "Show", 1000)
		o, err := f.svc.Reserve(ctx, "alice", "t1", "")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if err := f.svc.Expire(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if n, err := f.svc.Sweep(ctx); err != nil || n != 0 {
			t.Errorf("sweep after the expiry: %d orders, %v; want none", n, err)
		}
		if n := outboxCount(t, db, events.SubjectOrderCancelled); n != 1 {
			t.Errorf("%d order.cancelled events, want 1", n)
		}
	}, migs...)
}

package tickets

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestSell: order.completed marks the ticket its order holds sold, once;
// one that overtook its order.created waits; one for an order tickets
// refused changes nothing; a sold ticket is refused to any later order.
func TestSell(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := mustCreate(t, s, "seller", "Opera", 2000)

		if err := s.sell(ctx, tk.ID, "order-1", "buyer"); !errors.Is(err, errNotHeldBy) {
			t.Fatalf("sale before the reservation = %v, want errNotHeldBy (early)", err)
		}
		if err := s.reserve(ctx, tk.ID, reservation("order-1", tk)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, tk.ID, "order-1", "buyer"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, tk.ID)
		if got.Status != StatusSold || got.OrderID != "order-1" || got.Version != 2 || got.SoldAt.IsZero() {
			t.Fatalf("sold ticket = %+v", got)
		}
		evs := updates(outboxEvents(t, db))
		last := evs[len(evs)-1]
		if last.Status != events.TicketSold || last.Version != 2 || last.OrderID != "order-1" {
			t.Fatalf("last ticket.updated = %+v, want sold at version 2", last)
		}

		n := len(outboxEvents(t, db))
		if err := s.sell(ctx, tk.ID, "order-1", "buyer"); err != nil || len(outboxEvents(t, db)) != n {
			t.Fatalf("second sale: %v, %d events, want none new", err, len(outboxEvents(t, db))-n)
		}
		// A cancellation cannot put a sold ticket back on sale.
		if err := s.release(ctx, tk.ID, "order-1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, tk.ID); got.Status != StatusSold {
			t.Fatalf("released sold ticket = %+v", got)
		}
		// A later order for it is refused, not left waiting.
		if err := s.reserve(ctx, tk.ID, reservation("order-2", got)); err != nil {
			t.Fatal(err)
		}
		if r := refusals(outboxEvents(t, db), tk.ID); len(r) != 1 || r[0].Reason != events.RefusedNotAvailable {
			t.Fatalf("refusals = %+v, want one not_available", r)
		}
		// The completion of the refused order changes nothing.
		if err := s.sell(ctx, tk.ID, "order-2", "buyer"); err != nil {
			t.Fatalf("sale of a refused order = %v, want nil", err)
		}
		if got, _ := s.Get(ctx, tk.ID); got.OrderID != "order-1" || got.Version != 2 {
			t.Fatalf("after a refused order's sale = %+v", got)
		}
	}, migs...)
}

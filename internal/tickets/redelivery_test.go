package tickets

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestRedeliveredSaleAfterRelisting: the bus delivers at least once, so
// the order.created and order.completed of an order tickets already sold
// the ticket to can come again after the buyer has listed the ticket,
// withdrawn it, or resold it. They must change nothing: above all no
// ticket.reservation_refused for that order, which orders would answer by
// refunding a buyer who got (and may have resold) the ticket; and the
// order.completed must be done with, not early (redelivered for hours).
func TestRedeliveredSaleAfterRelisting(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		ev := resaleShow(uuid.NewString(), 3)
		if err := s.applyDoorEvent(ctx, ev, true); err != nil {
			t.Fatal(err)
		}
		if err := s.Issue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		// sell is a primary sale of seat i to buyer through order.created
		// and order.completed, which it returns to be delivered again.
		sell := func(i int) (events.OrderCreated, events.OrderCompleted) {
			t.Helper()
			tk, err := s.Get(ctx, seatID(ev.ID, i))
			if err != nil {
				t.Fatal(err)
			}
			v := tk.Version
			created := events.OrderCreated{ID: uuid.NewString(), Status: events.StatusCreated, UserID: buyer.ID,
				Ticket: events.OrderTicket{ID: tk.ID, Price: int64(tk.Price), Version: &v}}
			completed := events.OrderCompleted{ID: created.ID, UserID: buyer.ID, Ticket: events.OrderTicket{ID: tk.ID}}
			if err := s.onOrderCreated(ctx, created); err != nil {
				t.Fatal(err)
			}
			if err := s.onOrderCompleted(ctx, completed); err != nil {
				t.Fatal(err)
			}
			return created, completed
		}
		for i, after := range []string{"listed", "withdrawn", "resold"} {
			created, completed := sell(i)
			id := created.Ticket.ID
			listed, err := s.ListForResale(ctx, buyer.ID, id, 4900)
			if err != nil {
				t.Fatal(err)
			}
			switch after {
			case "withdrawn":
				if err := s.Unlist(ctx, buyer.ID, id); err != nil {
					t.Fatal(err)
				}
			case "resold":
				v := listed.Version
				resale := uuid.NewString()
				if err := s.onOrderCreated(ctx, events.OrderCreated{ID: resale, Status: events.StatusCreated, UserID: buyer2.ID,
					Ticket: events.OrderTicket{ID: id, Price: int64(listed.Price), Version: &v}}); err != nil {
					t.Fatal(err)
				}
				if err := s.onOrderCompleted(ctx, events.OrderCompleted{ID: resale, UserID: buyer2.ID, Ticket: events.OrderTicket{ID: id}}); err != nil {
					t.Fatal(err)
				}
			}
			before, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// order.completed first, as then no refusal has settled the
			// order; then order.created, then both again.
			for range 2 {
				if err := s.onOrderCompleted(ctx, completed); err != nil {
					t.Errorf("%s: order.completed again = %v, want done with", after, err)
				}
				if err := s.onOrderCreated(ctx, created); err != nil {
					t.Errorf("%s: order.created again = %v", after, err)
				}
			}
			if r := refusals(outboxEvents(t, db), id); len(r) > 0 {
				t.Errorf("%s: the sold order's order.created again was refused: %+v (orders would refund a buyer who got the ticket)", after, r)
			}
			if got, _ := s.Get(ctx, id); got != before {
				t.Errorf("%s: the deliveries again changed the ticket:\n%+v\nwas\n%+v", after, got, before)
			}
		}
	}, migs...)
}

package shows

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestResaleListingNotLeft: a holder's resale listing (DESIGN.md 9.3) is
// on sale, but not one of its event's tickets left, nor when its order
// lets go of it; withdrawn, it stays out.
func TestResaleListingNotLeft(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 10))
		tk := uuid.NewString()
		listing := func(v int64, status, order string) events.TicketUpdated {
			return events.TicketUpdated{ID: tk, Version: v, Status: status, OrderID: order, EventID: e.ID,
				Price: 2400, UserID: "holder", Resale: true}
		}
		for i, ev := range append(ticketLife(tk, e.ID),
			listing(5, events.TicketOnSale, ""),
			listing(6, events.TicketReserved, "o3"),
			listing(7, events.TicketOnSale, ""),
			events.TicketUpdated{ID: tk, Version: 8, Status: events.TicketHeld, EventID: e.ID, Price: 2400},
		) {
			if err := s.deliver(ctx, ev); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if i >= 4 {
				if got := left(t, s, e.ID); got != 0 {
					t.Fatalf("after event %d: %d left, want 0", i, got)
				}
			}
		}
	}, migs...)
}

package orders_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestResaleListingNotPickedByEvent: a holder's resale listing of an
// issued ticket (DESIGN.md 9.3) is ordered by its id, at the seller's
// price, and stays out of the event's free stock even after an order for
// it is cancelled: POST /api/orders {eventId} sells only the organizer's
// unsold tickets, at face value.
func TestResaleListingNotPickedByEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Now: clocktest.New(start).Now})
		ticket := f.issue(t, "ev-resale", 1, start)[0]

		reserve := func(user, body string) (int, orderBody) {
			t.Helper()
			w := request(f.handler, "POST", "/api/orders", body, token(t, user))
			var o orderBody
			_ = json.Unmarshal(w.Body.Bytes(), &o)
			return w.Code, o
		}
		if code, _ := reserve("first", `{"eventId":"ev-resale"}`); code != http.StatusCreated {
			t.Fatalf("primary order = %d", code)
		}
		list, err := f.svc.Orders(ctx, "first")
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		if err := f.svc.Pay(ctx, list[0].ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		// Tickets reserves, sells, then the holder lists it at 40.00.
		for _, u := range []events.TicketUpdated{
			{ID: ticket, Version: 1, Title: "Night Opera — Royal Hall", Price: 4500, UserID: "organizer", OrderID: list[0].ID,
				Status: events.TicketReserved, EventID: "ev-resale", OnSaleAt: start},
			{ID: ticket, Version: 2, Title: "Night Opera — Royal Hall", Price: 4500, UserID: "organizer", OrderID: list[0].ID,
				Status: "held", EventID: "ev-resale", OnSaleAt: start},
			{ID: ticket, Version: 3, Title: "Night Opera — Royal Hall", Price: 4000, UserID: "first",
				Status: events.TicketOnSale, EventID: "ev-resale", OnSaleAt: start},
		} {
			if err := deliver(t, f.svc, u); err != nil {
				t.Fatal(err)
			}
		}
		if code, _ := reserve("first", `{"ticketId":"`+ticket+`"}`); code != http.StatusBadRequest {
			t.Errorf("the seller ordering their own listing = %d, want 400 own_ticket", code)
		}
		code, o := reserve("second", `{"ticketId":"`+ticket+`"}`)
		if code != http.StatusCreated {
			t.Fatalf("resale order = %d", code)
		}
		if err := f.svc.Cancel(ctx, "second", o.ID); err != nil {
			t.Fatal(err)
		}
		if code, _ := reserve("third", `{"eventId":"ev-resale"}`); code != http.StatusConflict {
			t.Fatalf("an order by event after the resale order was cancelled = %d, want 409 sold_out (the listing is not stock)", code)
		}
		if code, _ := reserve("third", `{"ticketId":"`+ticket+`"}`); code != http.StatusCreated {
			t.Fatalf("the listing by its id again = %d, want 201", code)
		}
	}, migs...)
}

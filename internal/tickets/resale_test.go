package tickets

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var buyer2 = session.User{ID: "buyer-2", Email: "buyer2@example.com"}

// resaleShow is doorShow(id, capacity) whose resale cap is 110% of its
// 45.00 face value: 49.50.
func resaleShow(id string, capacity int) events.EventState {
	ev := doorShow(id, capacity)
	ev.ResaleCapPercent = 110
	return ev
}

// lastUpdate is the newest ticket.updated of ticketID in db's outbox.
func lastUpdate(tb testing.TB, db *sqldb.DB, ticketID string) events.TicketUpdated {
	tb.Helper()
	var last events.TicketUpdated
	for _, u := range updates(outboxEvents(tb, db)) {
		if u.ID == ticketID {
			last = u
		}
	}
	if last.ID == "" {
		tb.Fatalf("no ticket.updated of %s", ticketID)
	}
	return last
}

func code(tb testing.TB, err error) string {
	tb.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		tb.Fatalf("error %v is not a fault", err)
	}
	return fe.CodeOf()
}

// TestListForResale: only the holder lists, at most at the cap; the
// listing goes on sale as its seller's (ticket.updated), can be repriced
// and withdrawn until an order holds it, and a used ticket cannot be
// listed.
func TestListForResale(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tks := heldTickets(t, s, resaleShow("ev-resale", 2))
		tk := tks[0]

		for _, who := range []string{"", organizer.ID, stranger.ID} {
			if _, err := s.ListForResale(ctx, who, tk.ID, 4000); !errors.Is(err, ErrNotFound) {
				t.Errorf("listing by %q = %v, want not found", who, err)
			}
		}
		_, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4951)
		if code(t, err) != "over_resale_cap" || !strings.Contains(err.Error(), "49.50") {
			t.Fatalf("listing over the cap = %v, want over_resale_cap naming 49.50", err)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tk.ID, 0); err == nil {
			t.Fatal("listing at 0 was accepted")
		}
		listed, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4950)
		if err != nil {
			t.Fatal(err)
		}
		if listed.Status != StatusOnSale || listed.Price != 4950 || listed.OrderID != "" || listed.HolderID != buyer.ID {
			t.Fatalf("listed = %+v", listed)
		}
		u := lastUpdate(t, db, tk.ID)
		if u.Status != string(StatusOnSale) || u.UserID != buyer.ID || u.Price != 4950 || u.OrderID != "" || u.Version != listed.Version || !u.Resale {
			t.Fatalf("ticket.updated of the listing = %+v, want on_sale sold by the holder", u)
		}
		onSale, err := s.List(ctx, Listing{})
		if err != nil || len(onSale) != 1 || onSale[0].ID != tk.ID {
			t.Fatalf("tickets on sale = %+v, %v, want the listing", onSale, err)
		}
		// The listed holder's code still works for them.
		if _, err := s.Code(ctx, buyer.ID, tk.ID); err != nil {
			t.Fatalf("code of a listed ticket: %v", err)
		}
		if listed, err = s.ListForResale(ctx, buyer.ID, tk.ID, 4000); err != nil || listed.Price != 4000 {
			t.Fatalf("repriced = %+v, %v", listed, err)
		}

		if err := s.reserve(ctx, tk.ID, reservation("resale-order", listed)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tk.ID, 3000); !errors.Is(err, ErrListingReserved) {
			t.Errorf("repricing a reserved listing = %v, want ErrListingReserved", err)
		}
		if err := s.Unlist(ctx, buyer.ID, tk.ID); !errors.Is(err, ErrListingReserved) {
			t.Errorf("withdrawing a reserved listing = %v, want ErrListingReserved", err)
		}
		if err := s.release(ctx, tk.ID, "resale-order"); err != nil {
			t.Fatal(err)
		}
		if err := s.Unlist(ctx, stranger.ID, tk.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("withdrawal by a stranger = %v, want not found", err)
		}
		if err := s.Unlist(ctx, buyer.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, tk.ID)
		if got.Status != StatusHeld || got.HolderID != buyer.ID || got.CodeVersion != 1 {
			t.Fatalf("withdrawn listing = %+v, want held by the buyer, same code", got)
		}
		if u := lastUpdate(t, db, tk.ID); u.Status != string(StatusHeld) || u.UserID != organizer.ID || u.Resale {
			t.Fatalf("ticket.updated of the withdrawal = %+v", u)
		}
		before := len(outboxEvents(t, db))
		if err := s.Unlist(ctx, buyer.ID, tk.ID); err != nil || len(outboxEvents(t, db)) != before {
			t.Fatalf("withdrawing again = %v, published %d", err, len(outboxEvents(t, db))-before)
		}

		// A ticket its holder used at the door cannot be resold.
		c, err := s.Code(ctx, buyer.ID, tks[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.CheckInCode(ctx, doorStaff, c.Code, "ev-resale"); err != nil || r.Result != ResultAdmitted {
			t.Fatalf("check-in = %+v, %v", r, err)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tks[1].ID, 4000); !errors.Is(err, ErrCheckedIn) {
			t.Fatalf("listing a used ticket = %v, want ErrCheckedIn", err)
		}
	}, migs...)
}

// TestResaleCancelledEvent: a cancelled event's tickets cannot be listed;
// a listing at the cancellation is void, its code with it, and one an
// order holds is withdrawn with its order, as reserved stock is.
func TestResaleCancelledEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		ev := resaleShow("ev-resale-cancel", 3)
		tks := heldTickets(t, s, ev)
		if _, err := s.ListForResale(ctx, buyer.ID, tks[0].ID, 4500); err != nil {
			t.Fatal(err)
		}
		reserved, err := s.ListForResale(ctx, buyer.ID, tks[1].ID, 4500)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, reserved.ID, reservation("resale-cancel", reserved)); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelEvent(ctx, ev.ID); err != nil {
			t.Fatal(err)
		}
		ev.Version, ev.Status = 1, events.EventStatusCancelled
		if err := s.applyDoorEvent(ctx, ev, false); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, tks[0].ID)
		if got.Status != StatusVoid || got.CodeVersion != 2 {
			t.Fatalf("listing of a cancelled event = %+v, want void with a new code version", got)
		}
		if _, err := s.Code(ctx, buyer.ID, got.ID); !errors.Is(err, ErrTicketVoid) {
			t.Errorf("code of the void listing = %v", err)
		}
		// The reserved listing is withdrawn with its order on it, as
		// unsold stock is, so orders cancels the order; paid meanwhile, it
		// gives the buyer a void ticket (orders refunds it).
		got, _ = s.Get(ctx, reserved.ID)
		if got.Status != StatusWithdrawn || got.OrderID != "resale-cancel" || got.CodeVersion != reserved.CodeVersion+1 {
			t.Fatalf("reserved listing of a cancelled event = %+v, want withdrawn with its order and a new code version", got)
		}
		if u := lastUpdate(t, db, got.ID); u.Status != string(StatusWithdrawn) || u.OrderID != "resale-cancel" {
			t.Fatalf("ticket.updated of the reserved listing = %+v", u)
		}
		if err := s.sell(ctx, got.ID, "resale-cancel", buyer2.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Get(ctx, reserved.ID); got.Status != StatusVoid || got.HolderID != buyer2.ID {
			t.Fatalf("listing paid after the cancellation = %+v, want void, held by the buyer", got)
		}
		for _, tk := range []Ticket{tks[0], tks[2]} {
			if _, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4000); !errors.Is(err, ErrEventNotScheduled) {
				t.Errorf("listing %s of a cancelled event = %v, want ErrEventNotScheduled", tk.ID, err)
			}
		}
	}, migs...)
}

// TestResaleReissuesCode: the paid resale makes the buyer the holder with
// a new code; the seller's code is void at the door, the buyer's admits.
func TestResaleReissuesCode(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := heldTickets(t, s, resaleShow("ev-reissue", 1))[0]
		old, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4900)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, tk.ID, reservation("resale-1", listed)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, tk.ID, "resale-1", buyer2.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, tk.ID)
		if got.Status != StatusHeld || got.HolderID != buyer2.ID || got.CodeVersion != 2 || got.OrderID != "resale-1" {
			t.Fatalf("resold ticket = %+v, want held by buyer 2 with code version 2", got)
		}
		if u := lastUpdate(t, db, tk.ID); u.Status != string(StatusHeld) || u.UserID != organizer.ID {
			t.Fatalf("ticket.updated of the resale = %+v", u)
		}
		if _, err := s.Code(ctx, buyer.ID, tk.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("seller's code after the resale = %v, want not found", err)
		}
		fresh, err := s.Code(ctx, buyer2.ID, tk.ID)
		if err != nil || fresh.CodeVersion != 2 {
			t.Fatalf("buyer's code = %+v, %v", fresh, err)
		}
		for _, c := range []string{old.Code, old.Short} {
			if r, err := s.CheckInCode(ctx, doorStaff, c, "ev-reissue"); err != nil || r.Result != ResultVoid {
				t.Fatalf("seller's old code %s at the door = %+v, %v, want void", c, r, err)
			}
		}
		if r, err := s.CheckInCode(ctx, doorStaff, fresh.Short, "ev-reissue"); err != nil || r.Result != ResultAdmitted {
			t.Fatalf("buyer's code at the door = %+v, %v, want admitted", r, err)
		}
	}, migs...)
}

// TestCheckInWhileListed: the listed holder is admitted and the listing
// leaves sale with it; a listing an order holds is being_resold and
// admits no one until the order lets go.
func TestCheckInWhileListed(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tks := heldTickets(t, s, resaleShow("ev-listed-door", 2))

		c, _ := s.Code(ctx, buyer.ID, tks[0].ID)
		if _, err := s.ListForResale(ctx, buyer.ID, tks[0].ID, 4500); err != nil {
			t.Fatal(err)
		}
		r, err := s.CheckInCode(ctx, doorStaff, c.Code, "ev-listed-door")
		if err != nil || r.Result != ResultAdmitted {
			t.Fatalf("listed holder at the door = %+v, %v, want admitted", r, err)
		}
		got, _ := s.Get(ctx, tks[0].ID)
		if got.Status != StatusHeld || got.CodeVersion != 1 {
			t.Fatalf("ticket after its listed holder came in = %+v, want held", got)
		}
		if u := lastUpdate(t, db, got.ID); u.Status != string(StatusHeld) || u.Version != got.Version {
			t.Fatalf("ticket.updated at check-in = %+v, want held at v%d", u, got.Version)
		}

		c, _ = s.Code(ctx, buyer.ID, tks[1].ID)
		listed, err := s.ListForResale(ctx, buyer.ID, tks[1].ID, 4500)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, listed.ID, reservation("resale-2", listed)); err != nil {
			t.Fatal(err)
		}
		r, err = s.CheckInCode(ctx, doorStaff, c.Short, "ev-listed-door")
		if err != nil || r.Result != ResultBeingResold || r.TicketID != listed.ID || !r.CheckedInAt.IsZero() {
			t.Fatalf("reserved listing at the door = %+v, %v, want being_resold", r, err)
		}
		if err := s.release(ctx, listed.ID, "resale-2"); err != nil {
			t.Fatal(err)
		}
		if r, err = s.CheckInCode(ctx, doorStaff, c.Short, "ev-listed-door"); err != nil || r.Result != ResultAdmitted {
			t.Fatalf("released listing at the door = %+v, %v, want admitted", r, err)
		}
	}, migs...)
}

// TestListingHTTP: the two routes through the real handler.
func TestListingHTTP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		h := handler(s)
		tk := heldTickets(t, s, resaleShow("ev-listing-http", 1))[0]
		path := "/api/tickets/" + tk.ID + "/listing"

		for _, tc := range []struct {
			name   string
			user   *session.User
			body   string
			status int
			code   string
		}{
			{"signed out", nil, `{"price":40}`, 401, "unauthorized"},
			{"stranger", &stranger, `{"price":40}`, 404, "not_found"},
			{"no price", &buyer, `{}`, 400, "invalid"},
			{"bad price", &buyer, `{"price":"4.005"}`, 400, "invalid"},
			{"over the cap", &buyer, `{"price":49.51}`, 400, "over_resale_cap"},
			{"unknown field", &buyer, `{"price":40,"x":1}`, 400, ""},
		} {
			r := httpapitest.Do(t, h, "POST", path, tc.user, tc.body)
			if r.Status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
				continue
			}
			if tc.code != "" && !strings.Contains(string(r.Body), `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %s, want code %s", tc.name, r.Body, tc.code)
			}
		}
		r := httpapitest.Do(t, h, "POST", path, &buyer, `{"price":49.5}`)
		if r.Status != http.StatusOK {
			t.Fatalf("listing: %d %s", r.Status, r.Body)
		}
		m := r.Object(t)
		if m["status"] != "on_sale" || m["price"] != 49.5 || m["heldByYou"] != true {
			t.Fatalf("listing = %s", r.Body)
		}
		listed, _ := s.Get(ctx, tk.ID)
		if err := s.reserve(ctx, tk.ID, reservation("resale-http", listed)); err != nil {
			t.Fatal(err)
		}
		r = httpapitest.Do(t, h, "DELETE", path, &buyer, "")
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "ticket_reserved_locked") {
			t.Fatalf("withdrawing a reserved listing: %d %s", r.Status, r.Body)
		}
		if err := s.release(ctx, tk.ID, "resale-http"); err != nil {
			t.Fatal(err)
		}
		if r = httpapitest.Do(t, h, "DELETE", path, &stranger, ""); r.Status != http.StatusNotFound {
			t.Fatalf("withdrawal by a stranger: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "DELETE", path, &buyer, ""); r.Status != http.StatusNoContent {
			t.Fatalf("withdrawal: %d %s", r.Status, r.Body)
		}
		if got, _ := s.Get(ctx, tk.ID); got.Status != StatusHeld {
			t.Fatalf("withdrawn listing = %+v", got)
		}
	}, migs...)
}

// TestResaleListingsLimit: a holder's resale listings count against their
// MAX_LISTINGS, beside their free-form ones, and not against the
// event's organizer, whose tickets they were.
func TestResaleListingsLimit(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ob := outbox.New(db, natsbustest.NopPublisher{}, natsbustest.Logger(t), outbox.Config{})
		s := New(db, ob, natsbustest.Logger(t), Config{MaxListings: 1})
		tks := heldTickets(t, s, resaleShow("ev-limit", 2))
		if _, err := s.ListForResale(ctx, buyer.ID, tks[0].ID, 4000); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tks[0].ID, 3900); err != nil {
			t.Fatalf("repricing the one listing: %v", err)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tks[1].ID, 4000); !errors.Is(err, ErrTooManyListings) {
			t.Fatalf("a second listing past MAX_LISTINGS = %v, want ErrTooManyListings", err)
		}
		if _, err := s.Create(ctx, buyer.ID, Fields{Title: "Free-form", Price: 1000}); !errors.Is(err, ErrTooManyListings) {
			t.Fatalf("a free-form listing beside the resale one = %v, want ErrTooManyListings", err)
		}
		if _, err := s.Create(ctx, organizer.ID, Fields{Title: "Organizer's own", Price: 1000}); err != nil {
			t.Fatalf("the organizer's free-form listing = %v: a holder's listing counted against them", err)
		}
	}, migs...)
}

// TestResponseMarksResale: the API tells anyone that a holder's listing is
// a resale (the pages show it verified), and the event's own stock and a
// free-form listing are not; who holds it stays the holder's to know.
func TestResponseMarksResale(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		t    Ticket
		want bool
	}{
		{"resale on sale", Ticket{ID: "t1", EventID: "e1", HolderID: "ann", UserID: "org", Status: StatusOnSale}, true},
		{"resale reserved", Ticket{ID: "t1", EventID: "e1", HolderID: "ann", UserID: "org", Status: StatusReserved, OrderID: "o1"}, true},
		{"held", Ticket{ID: "t1", EventID: "e1", HolderID: "ann", UserID: "org", Status: StatusHeld}, false},
		{"event stock", Ticket{ID: "t1", EventID: "e1", UserID: "org", Status: StatusOnSale}, false},
		{"free-form", Ticket{ID: "t1", UserID: "bob", Status: StatusOnSale}, false},
	} {
		got := toResponse(tt.t, "bob")
		if got.Resale != tt.want || got.HeldByYou {
			t.Errorf("%s: resale %v heldByYou %v, want resale %v and not held by the viewer", tt.name, got.Resale, got.HeldByYou, tt.want)
		}
	}
}

package tickets

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// mustList lists the buyer's ticket id at price.
func mustList(tb testing.TB, s *Service, id string, price money.Cents) Ticket {
	tb.Helper()
	t, err := s.ListForResale(context.Background(), buyer.ID, id, price)
	if err != nil {
		tb.Fatalf("list %s at %d: %v", id, price, err)
	}
	return t
}

// TestCapChangeWithdrawsListings: an event.updated that lowers the resale
// cap takes every listing on sale above the new cap off sale, in chunks,
// back to its holder with the same code and the reason, each with its
// ticket.updated; listings within the cap, held tickets and a listing an
// order holds are left alone, and that one meets the cap when its order
// is cancelled. The holder may list again within the new cap.
func TestCapChangeWithdrawsListings(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 2, nil) // 5 tickets: three chunks
		ev := resaleShow("ev-cap", 5)
		tks := heldTickets(t, s, ev)
		over := mustList(t, s, tks[0].ID, 4950)
		within := mustList(t, s, tks[1].ID, 4500)
		reserved := mustList(t, s, tks[2].ID, 4800)
		if err := s.reserve(ctx, reserved.ID, reservation("order-cap", reserved)); err != nil {
			t.Fatal(err)
		}
		atCap := mustList(t, s, tks[4].ID, 4725)
		before := len(outboxEvents(t, db))

		// 105% of 45.00: 47.25.
		ev.Version, ev.ResaleCapPercent = 1, 105
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, over.ID)
		if got.Status != StatusHeld || got.HolderID != buyer.ID || got.CodeVersion != over.CodeVersion ||
			got.WithdrawnReason != ReasonOverResaleCap || got.WithdrawnCap != 4725 {
			t.Fatalf("listing over the new cap = %+v, want held by its holder, same code, withdrawn over_resale_cap at 4725", got)
		}
		if u := lastUpdate(t, db, over.ID); u.Status != string(StatusHeld) || u.Resale || u.Version != got.Version {
			t.Fatalf("ticket.updated of the withdrawal = %+v", u)
		}
		for _, want := range []Ticket{within, atCap} {
			if got, _ := s.Get(ctx, want.ID); got.Status != StatusOnSale || got.Version != want.Version || got.WithdrawnReason != "" {
				t.Errorf("listing within the cap = %+v, want it left on sale", got)
			}
		}
		if got, _ := s.Get(ctx, reserved.ID); got.Status != StatusReserved || got.OrderID != "order-cap" {
			t.Errorf("reserved listing = %+v, want it left to its order", got)
		}
		if got, _ := s.Get(ctx, tks[3].ID); got.Status != StatusHeld || got.Version != tks[3].Version {
			t.Errorf("held ticket = %+v, want unchanged", got)
		}
		if n := len(outboxEvents(t, db)) - before; n != 1 {
			t.Fatalf("the cap change published %d events, want 1 (the withdrawal)", n)
		}
		// Redelivered: nothing new.
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		if n := len(outboxEvents(t, db)) - before; n != 1 {
			t.Fatalf("after a redelivery %d events, want still 1", n)
		}

		// The order that held the listing is cancelled: it does not go
		// back on sale above the cap in force.
		if err := s.release(ctx, reserved.ID, "order-cap"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, reserved.ID)
		if got.Status != StatusHeld || got.OrderID != "" || got.WithdrawnReason != ReasonOverResaleCap || got.WithdrawnCap != 4725 {
			t.Fatalf("released listing over the cap = %+v, want held, withdrawn", got)
		}
		if u := lastUpdate(t, db, reserved.ID); u.Status != string(StatusHeld) || u.Resale {
			t.Fatalf("ticket.updated of the release = %+v", u)
		}

		// The holder sees why; nobody else does.
		h := handler(s)
		r := httpapitest.Do(t, h, "GET", "/api/tickets/"+over.ID, &buyer, "")
		if m := r.Object(t); m["withdrawnReason"] != ReasonOverResaleCap || m["withdrawnCap"] != 47.25 {
			t.Fatalf("holder's view: %s", r.Body)
		}
		r = httpapitest.Do(t, h, "GET", "/api/tickets/"+over.ID, &stranger, "")
		if strings.Contains(string(r.Body), "withdrawn") {
			t.Fatalf("stranger's view: %s", r.Body)
		}

		// Listing again: the new cap, and the reason goes.
		if _, err := s.ListForResale(ctx, buyer.ID, over.ID, 4726); code(t, err) != "over_resale_cap" || !strings.Contains(err.Error(), "47.25") {
			t.Fatalf("listing over the new cap = %v", err)
		}
		again := mustList(t, s, over.ID, 4725)
		if again.Status != StatusOnSale || again.WithdrawnReason != "" || again.WithdrawnCap != 0 {
			t.Fatalf("listed again = %+v", again)
		}
		if got, _ := s.Get(ctx, over.ID); got.WithdrawnReason != "" {
			t.Fatalf("stored after listing again = %+v", got)
		}
	}, migs...)
}

// TestTransferClearsWithdrawnReason: the recipient of a ticket whose
// listing left sale over a lowered cap does not see the sender's notice.
func TestTransferClearsWithdrawnReason(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 0, nil)
		ev := resaleShow("ev-cap-transfer", 1)
		ev.Transfers = true
		tk := heldTickets(t, s, ev)[0]
		mustList(t, s, tk.ID, 4950)
		ev.Version, ev.ResaleCapPercent = 1, 105
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, tk.ID); got.WithdrawnReason != ReasonOverResaleCap {
			t.Fatalf("withdrawn = %+v", got)
		}
		tr, err := s.StartTransfer(ctx, buyer, tk.ID, buyer2.Email)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AcceptTransfer(ctx, buyer2, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.WithdrawnReason != "" || got.WithdrawnCap != 0 {
			t.Fatalf("recipient's ticket = %+v, want no withdrawal notice", got)
		}
		if stored, _ := s.Get(ctx, tk.ID); stored.WithdrawnReason != "" {
			t.Fatalf("stored = %+v", stored)
		}
	}, migs...)
}

// TestListingsByEvent: GET /api/tickets?eventId= lists that event's
// resale listings only, paged with the filter kept; a malformed id is 400.
func TestListingsByEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db)
		h := handler(s)
		a := heldTickets(t, s, resaleShow("ev-a", 3))
		b := heldTickets(t, s, resaleShow("ev-b", 1))
		mustList(t, s, a[0].ID, 4000)
		mustList(t, s, a[2].ID, 4100)
		mustList(t, s, b[0].ID, 4200)
		mustCreate(t, s, stranger.ID, "Free-form", 1000)

		r := httpapitest.Do(t, h, "GET", "/api/tickets?eventId=ev-a", nil, "")
		list := r.Objects(t)
		seen := map[any]bool{}
		for _, tk := range list {
			seen[tk["id"]] = true
		}
		if r.Status != http.StatusOK || len(list) != 2 || !seen[a[0].ID] || !seen[a[2].ID] {
			t.Fatalf("ev-a's listings: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "GET", "/api/tickets?eventId=ev-a&limit=1&sort=price_asc", nil, "")
		if list = r.Objects(t); len(list) != 1 || list[0]["id"] != a[0].ID {
			t.Fatalf("first page: %s", r.Body)
		}
		link := r.Header.Get("Link")
		if !strings.Contains(link, "eventId=ev-a") {
			t.Fatalf("next page link %q does not keep the event", link)
		}
		next := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
		if r = httpapitest.Do(t, h, "GET", next, nil, ""); len(r.Objects(t)) != 1 || r.Objects(t)[0]["id"] != a[2].ID {
			t.Fatalf("second page %s: %s", next, r.Body)
		}
		if r = httpapitest.Do(t, h, "GET", "/api/tickets?eventId=no-such-event", nil, ""); r.Status != 200 || len(r.Objects(t)) != 0 {
			t.Fatalf("unknown event: %d %s", r.Status, r.Body)
		}
		for _, bad := range []string{"a.b", "%00", strings.Repeat("x", 65)} {
			r = httpapitest.Do(t, h, "GET", "/api/tickets?eventId="+bad, nil, "")
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "eventId") {
				t.Errorf("eventId=%q: %d %s, want 400 naming eventId", bad, r.Status, r.Body)
			}
		}
	}, migs...)
}

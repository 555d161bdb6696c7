package tickets

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// disputed is the payment.disputed of the order that sold tk to buyer in
// heldTickets.
func disputed(evID string, tk Ticket) events.PaymentDisputed {
	return events.PaymentDisputed{ID: "dp_" + tk.ID[:8], PaymentID: "pay-" + tk.ID[:8],
		OrderID: evID + "-order-" + tk.ID[:8], UserID: buyer.ID, ChargeID: "pi_" + tk.ID[:8]}
}

// TestPaymentDisputed: a disputed payment voids the code of the ticket it
// bought while its buyer holds it, held or listed (void, code version
// moved on, history "voided", one ticket.updated; again: nothing), waits
// while an order holds the buyer's listing, and leaves alone a ticket
// resold to someone else, a free-form sale, and an order that bought
// nothing.
func TestPaymentDisputed(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		ev := resaleShow("ev-dispute", 4)
		tks := heldTickets(t, s, ev)

		// Held: void.
		held := tks[0]
		before := len(outboxEvents(t, db))
		for range 2 {
			if err := s.onPaymentDisputed(ctx, disputed(ev.ID, held)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, held.ID)
		if got.Status != StatusVoid || got.CodeVersion != 2 || got.HolderID != buyer.ID {
			t.Fatalf("disputed ticket = %+v, want void with code version 2", got)
		}
		if n := len(outboxEvents(t, db)) - before; n != 1 {
			t.Fatalf("%d events published for a dispute delivered twice, want 1", n)
		}
		if u := lastUpdate(t, db, held.ID); u.Status != string(StatusVoid) || u.Version != got.Version {
			t.Fatalf("ticket.updated = %+v", u)
		}
		if _, err := s.Code(ctx, buyer.ID, held.ID); !errors.Is(err, ErrTicketVoid) {
			t.Fatalf("code of the disputed ticket = %v, want ErrTicketVoid", err)
		}
		h, err := s.History(ctx, buyer.ID, held.ID, 0, 10)
		if err != nil || len(h) == 0 || h[len(h)-1].Reason != ReasonVoided || h[len(h)-1].CodeVersion != 2 {
			t.Fatalf("history = %+v, %v, want it to end with voided at code version 2", h, err)
		}

		// Listed for resale by the disputing buyer: void, off sale.
		listed, err := s.ListForResale(ctx, buyer.ID, tks[1].ID, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.onPaymentDisputed(ctx, disputed(ev.ID, tks[1])); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Get(ctx, listed.ID); got.Status != StatusVoid || got.CodeVersion != 2 {
			t.Fatalf("disputed listing = %+v, want void", got)
		}
		if onSale, _ := s.List(ctx, Listing{}); len(onSale) != 0 {
			t.Fatalf("still on sale: %+v", onSale)
		}

		// A listing an order holds: waits for that order; released, void.
		listed, err = s.ListForResale(ctx, buyer.ID, tks[2].ID, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, listed.ID, reservation("dispute-resale-1", listed)); err != nil {
			t.Fatal(err)
		}
		if err := s.onPaymentDisputed(ctx, disputed(ev.ID, tks[2])); !isEarly(err) {
			t.Fatalf("dispute of a reserved listing = %v, want early", err)
		}
		if err := s.release(ctx, listed.ID, "dispute-resale-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.onPaymentDisputed(ctx, disputed(ev.ID, tks[2])); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Get(ctx, listed.ID); got.Status != StatusVoid {
			t.Fatalf("released disputed listing = %+v, want void", got)
		}

		// Resold to someone else: their code stands.
		listed, err = s.ListForResale(ctx, buyer.ID, tks[3].ID, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, listed.ID, reservation("dispute-resale-2", listed)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, listed.ID, "dispute-resale-2", buyer2.ID); err != nil {
			t.Fatal(err)
		}
		resold, _ := s.Get(ctx, listed.ID)
		if err := s.onPaymentDisputed(ctx, disputed(ev.ID, tks[3])); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Get(ctx, listed.ID); got.Status != StatusHeld || got.HolderID != buyer2.ID || got.Version != resold.Version {
			t.Fatalf("resold ticket after the first buyer's dispute = %+v, want held by the second buyer, unchanged", got)
		}

		// A free-form sale: no code to void.
		free := mustCreate(t, s, "seller-1", "Free show", 2000)
		if err := s.reserve(ctx, free.ID, reservation("dispute-free", free)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, free.ID, "dispute-free", buyer.ID); err != nil {
			t.Fatal(err)
		}
		sold, _ := s.Get(ctx, free.ID)
		if err := s.onPaymentDisputed(ctx, events.PaymentDisputed{ID: "dp_free", OrderID: "dispute-free", UserID: buyer.ID}); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Get(ctx, free.ID); got.Status != StatusSold || got.Version != sold.Version {
			t.Fatalf("free-form sale after a dispute = %+v, want sold, unchanged", got)
		}

		// An order whose sale is not applied yet: early; one released: nothing.
		if err := s.onPaymentDisputed(ctx, events.PaymentDisputed{ID: "dp_x", OrderID: "dispute-unknown", UserID: buyer.ID}); !isEarly(err) {
			t.Fatalf("dispute of an order tickets has not sold = %v, want early", err)
		}
		if err := s.onPaymentDisputed(ctx, events.PaymentDisputed{ID: "dp_y", OrderID: "dispute-resale-1", UserID: buyer2.ID}); err != nil {
			t.Fatalf("dispute of a released order = %v, want nothing to do", err)
		}
		for _, bad := range []events.PaymentDisputed{{OrderID: "bad id", UserID: "u"}, {OrderID: "o-1"}} {
			if err := s.onPaymentDisputed(ctx, bad); !natsbus.IsPermanent(err) {
				t.Errorf("payment.disputed %+v = %v, want permanent", bad, err)
			}
		}
	}, migs...)
}

package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// refundView is what the order JSON says of a refund.
type refundView struct {
	Status         string          `json:"status"`
	EventCancelled bool            `json:"eventCancelled"`
	Notice         string          `json:"notice"`
	Refund         string          `json:"refund"`
	RefundedAt     string          `json:"refundedAt"`
	Refunded       json.RawMessage `json:"refunded"`
	Total          json.RawMessage `json:"total"`
}

func (f *fixture) refundView(t *testing.T, user, id string) refundView {
	t.Helper()
	w := request(f.handler, "GET", "/api/orders/"+id, "", token(t, user))
	var v refundView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != 200 {
		t.Fatalf("GET order %s: %d %s", id, w.Code, w.Body)
	}
	return v
}

// refundRequests are the order.refund_requested events in the outbox.
func refundRequests(t *testing.T, db *sqldb.DB) []events.OrderRefundRequested {
	t.Helper()
	var out []events.OrderRefundRequested
	for _, p := range outboxPayloads(t, db, events.SubjectOrderRefundRequested) {
		var ev events.OrderRefundRequested
		if err := json.Unmarshal([]byte(p), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestEventCancelledRefundsPaidOrders: event.cancelled asks payments, once
// per order, to refund every paid order of the event, primary and resale
// (the walk goes in chunks, here of 2), and none of another event or
// unpaid; delivered again it asks for nothing more. The order says
// "refund pending" until payment.refunded, then "refunded" with the
// amount, once.
func TestEventCancelledRefundsPaidOrders(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Now: clocktest.New(start).Now, Fee: orders.DefaultFee, RefundChunk: 2})
		tickets := f.issue(t, "ev-off", 4, start)
		other := f.issue(t, "ev-on", 1, start)
		buy := func(user, eventID, payment string) orders.Order {
			t.Helper()
			o, err := f.svc.ReserveFromEvent(ctx, user, eventID, "")
			if err != nil {
				t.Fatal(err)
			}
			if payment != "" {
				if err := f.svc.Pay(ctx, o.ID, orders.Payment{ID: payment, StripeID: "ch_" + payment}); err != nil {
					t.Fatal(err)
				}
			}
			return o
		}
		first := buy("ann", "ev-off", "pay-1")
		second := buy("bob", "ev-off", "pay-2")
		unpaid := buy("cat", "ev-off", "")
		elsewhere := buy("dan", "ev-on", "pay-3")
		_ = other
		// Ann's ticket is sold to her, then resold by her to Eve.
		for _, u := range []events.TicketUpdated{
			{ID: first.Ticket.ID, Version: 1, Title: "Night Opera — Royal Hall", Price: 4500, UserID: "organizer", OrderID: first.ID,
				Status: events.TicketReserved, EventID: "ev-off", OnSaleAt: start},
			{ID: first.Ticket.ID, Version: 2, Title: "Night Opera — Royal Hall", Price: 4500, UserID: "organizer", OrderID: first.ID,
				Status: events.TicketHeld, EventID: "ev-off", OnSaleAt: start},
			{ID: first.Ticket.ID, Version: 3, Title: "Night Opera — Royal Hall", Price: 4000, UserID: "ann",
				Status: events.TicketOnSale, EventID: "ev-off", OnSaleAt: start, Resale: true},
		} {
			if err := deliver(t, f.svc, u); err != nil {
				t.Fatal(err)
			}
		}
		resale, err := f.svc.Reserve(ctx, "eve", first.Ticket.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, resale.ID, orders.Payment{ID: "pay-4", StripeID: "ch_pay-4"}); err != nil {
			t.Fatal(err)
		}
		if v := f.refundView(t, "bob", second.ID); v.Refund != "" {
			t.Fatalf("a paid order before any cancellation says refund %q", v.Refund)
		}

		cancelled := events.EventCancelled{EventState: events.EventState{ID: "ev-off", Version: 1, Status: events.EventStatusCancelled}}
		for range 2 { // the second is a redelivery
			if err := deliver(t, f.svc, cancelled); err != nil && !isBehind(err) {
				t.Fatal(err)
			}
		}
		got := map[string]string{}
		for _, ev := range refundRequests(t, db) {
			if _, dup := got[ev.OrderID]; dup {
				t.Errorf("refund of order %s requested twice", ev.OrderID)
			}
			got[ev.OrderID] = ev.PaymentID + "/" + ev.StripeID
		}
		want := map[string]string{first.ID: "pay-1/ch_pay-1", second.ID: "pay-2/ch_pay-2", resale.ID: "pay-4/ch_pay-4"}
		if len(got) != len(want) {
			t.Errorf("refunds requested %v, want %v", got, want)
		}
		for id, p := range want {
			if got[id] != p {
				t.Errorf("order %s: refund requested of %q, want %q", id, got[id], p)
			}
		}
		if _, ok := got[unpaid.ID]; ok {
			t.Error("an unpaid order's refund was requested")
		}
		if _, ok := got[elsewhere.ID]; ok {
			t.Error("another event's order's refund was requested")
		}

		// Before tickets' ticket.updated reaches the replica, the order
		// says its event was cancelled (orders learned it itself).
		if v := f.refundView(t, "eve", resale.ID); v.Refund != "pending" || !v.EventCancelled || v.Notice != "Event cancelled — refund pending" {
			t.Errorf("eve's resale order after the cancellation = %+v", v)
		}
		// Tickets voids Bob's ticket: his order says its refund is pending.
		for v, st := range []string{events.TicketReserved, events.TicketHeld, events.TicketVoid} {
			if err := deliver(t, f.svc, events.TicketUpdated{ID: second.Ticket.ID, Version: int64(v + 1), Title: "Night Opera — Royal Hall",
				Price: 4500, UserID: "organizer", OrderID: second.ID, Status: st, EventID: "ev-off"}); err != nil {
				t.Fatal(err)
			}
		}
		if v := f.refundView(t, "bob", second.ID); v.Refund != "pending" || v.Notice != "Event cancelled — refund pending" || v.Status != "complete" {
			t.Errorf("bob's order before the refund = %+v", v)
		}
		// payments reports the refund, twice: refunded, with the total.
		done := events.PaymentRefunded{ID: "pay-2", OrderID: second.ID, Amount: 5000}
		for range 2 {
			if err := deliver(t, f.svc, done); err != nil {
				t.Fatal(err)
			}
		}
		v := f.refundView(t, "bob", second.ID)
		if v.Refund != "refunded" || v.Notice != "Event cancelled — refunded $50.00" || string(v.Refunded) != "50" ||
			string(v.Total) != "50" || v.RefundedAt == "" {
			t.Errorf("bob's order after the refund = %+v", v)
		}
		// A refund of another payment of the order (a second, late one)
		// does not make the order refunded; an unknown order is terminated.
		if err := deliver(t, f.svc, events.PaymentRefunded{ID: "pay-9", OrderID: elsewhere.ID, Amount: 5000}); err != nil {
			t.Fatal(err)
		}
		if v := f.refundView(t, "dan", elsewhere.ID); v.Refund != "" {
			t.Errorf("another payment's refund marked the order: %+v", v)
		}
		if err := deliver(t, f.svc, events.PaymentRefunded{ID: "pay-9", OrderID: "0195f0a4-0000-7000-8000-000000000000", Amount: 1}); err == nil ||
			!strings.Contains(err.Error(), "not found") {
			t.Errorf("payment.refunded of an unknown order = %v, want terminated", err)
		}
		_ = tickets
	}, migs...)
}

// TestPaidAfterEventCancelledRefunds: an order paid after orders learned
// of its event's cancellation (the walk passed it unpaid) asks for its
// refund with its completion, once; a later refusal or a withdrawal of
// its ticket with the order on it asks for nothing more.
func TestPaidAfterEventCancelledRefunds(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Now: clocktest.New(start).Now, Fee: orders.DefaultFee})
		f.issue(t, "ev-late", 2, start)
		o, err := f.svc.ReserveFromEvent(ctx, "ann", "ev-late", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := deliver(t, f.svc, events.EventCancelled{EventState: events.EventState{ID: "ev-late", Version: 1}}); err != nil && !isBehind(err) {
			t.Fatal(err)
		}
		if n := len(refundRequests(t, db)); n != 0 {
			t.Fatalf("%d refunds requested before any payment", n)
		}
		p := orders.Payment{ID: "pay-1", StripeID: "ch_1"}
		for range 2 { // payment.created, then its redelivery
			if err := f.svc.Pay(ctx, o.ID, p); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(refundRequests(t, db)); n != 1 {
			t.Fatalf("%d refunds requested by the payment and its redelivery, want 1", n)
		}
		// The ticket withdrawn with the order on it, and a refusal.
		if err := f.svc.CancelForEvent(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Refuse(ctx, o.ID, events.RefusedNotAvailable); err != nil {
			t.Fatal(err)
		}
		reqs := refundRequests(t, db)
		if len(reqs) != 1 || reqs[0].OrderID != o.ID || reqs[0].PaymentID != "pay-1" {
			t.Errorf("refund requests = %+v, want one of pay-1", reqs)
		}
		if n := outboxCount(t, db, events.SubjectOrderCompleted); n != 1 {
			t.Errorf("order.completed %d times, want 1", n)
		}
	}, migs...)
}

// TestCancelForEventRefundsPaidOrder: a ticket withdrawn with its event
// while the paid order on it was missed by the walk (it completed before
// the walk could see it) asks for the order's refund, once.
func TestCancelForEventRefundsPaidOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Now: clocktest.New(start).Now})
		f.issue(t, "ev-w", 1, start)
		o, err := f.svc.ReserveFromEvent(ctx, "ann", "ev-w", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, o.ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := f.svc.CancelForEvent(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		if reqs := refundRequests(t, db); len(reqs) != 1 || reqs[0].PaymentID != "pay-1" {
			t.Errorf("refund requests = %+v, want one of pay-1", reqs)
		}
		got, err := f.svc.Order(ctx, "ann", o.ID)
		if err != nil || got.Status != orders.StatusComplete || got.RefundRequestedAt.IsZero() {
			t.Errorf("order = %+v (%v), want complete with its refund requested", got, err)
		}
	}, migs...)
}

// TestRefundWalkRacesPayments: payments completing an event's orders
// while orders learns the event was cancelled leave every paid order with
// exactly one refund request, whichever came first.
func TestRefundWalkRacesPayments(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{RefundChunk: 3})
		const n = 12
		f.issue(t, "ev-race", n, time.Time{})
		list := make([]orders.Order, n)
		for i := range list {
			o, err := f.svc.ReserveFromEvent(ctx, fmt.Sprintf("buyer-%d", i), "ev-race", "")
			if err != nil {
				t.Fatal(err)
			}
			list[i] = o
		}
		var wg sync.WaitGroup
		for i, o := range list {
			wg.Go(func() {
				if err := f.svc.Pay(ctx, o.ID, orders.Payment{ID: fmt.Sprintf("pay-%d", i), StripeID: "ch"}); err != nil {
					t.Error(err)
				}
			})
			if i == n/2 {
				wg.Go(func() {
					if err := f.svc.RefundEvent(ctx, "ev-race"); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		seen := map[string]int{}
		for _, ev := range refundRequests(t, db) {
			seen[ev.OrderID]++
		}
		for _, o := range list {
			if seen[o.ID] != 1 {
				t.Errorf("order %s: %d refund requests, want 1", o.ID, seen[o.ID])
			}
		}
	}, migs...)
}

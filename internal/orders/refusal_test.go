package orders_test

import (
	"context"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestReservationRefused delivers ticket.reservation_refused through real
// NATS, twice each: an unpaid order is cancelled with the reason (one
// order.cancelled); one paid in the moment between is cancelled and its
// payment refunded (one order.refund_requested); one the buyer cancelled
// first stays as it is; an unknown order is terminated.
func TestReservationRefused(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		for _, id := range []string{"t1", "t2", "t3"} {
			f.addTicket(t, id, "Show", 1000)
		}
		refused := func(o orders.Order) events.TicketReservationRefused {
			return events.TicketReservationRefused{TicketID: o.Ticket.ID, OrderID: o.ID, Reason: events.RefusedPriceChange}
		}
		deliverTwice := func(t *testing.T, ev events.TicketReservationRefused) {
			t.Helper()
			publish(t, bus, ev, ev)
			natsbustest.Eventually(t, waitFor, "both deliveries acked", func() bool { return sp.count(t, ev, true) == 2 })
		}
		order := func(t *testing.T, userID, id string) orders.Order {
			t.Helper()
			o, err := f.svc.Order(ctx, userID, id)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}

		t.Run("unpaid order is cancelled", func(t *testing.T) {
			o, err := f.svc.Reserve(ctx, "alice", "t1", "")
			if err != nil {
				t.Fatal(err)
			}
			deliverTwice(t, refused(o))
			if got := order(t, "alice", o.ID); got.Status != orders.StatusCancelled || got.CancelledBy != events.RefusedPriceChange || got.Version != 1 {
				t.Errorf("order = %s v%d by %q, want cancelled v1 by price_change", got.Status, got.Version, got.CancelledBy)
			}
			want := mustJSON(t, events.OrderCancelled{ID: o.ID, Version: 1, Ticket: events.OrderTicket{ID: "t1"}, CancelledBy: events.RefusedPriceChange})
			if got := outboxPayloads(t, db, events.SubjectOrderCancelled); len(got) != 1 || got[0] != want {
				t.Errorf("order.cancelled events = %v, want one %s", got, want)
			}
			if n := outboxCount(t, db, events.SubjectOrderRefundRequested); n != 0 {
				t.Errorf("refunds requested = %d, want 0", n)
			}
		})

		t.Run("order paid meanwhile is refunded", func(t *testing.T) {
			o, err := f.svc.Reserve(ctx, "bob", "t2", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Pay(ctx, o.ID, orders.Payment{ID: "pay-2", StripeID: "ch_2"}); err != nil {
				t.Fatal(err)
			}
			cancelled := outboxCount(t, db, events.SubjectOrderCancelled)
			deliverTwice(t, refused(o))
			got := order(t, "bob", o.ID)
			if got.Status != orders.StatusCancelled || got.CancelledBy != events.RefusedPriceChange || got.PaymentID != "pay-2" {
				t.Errorf("order = %+v, want cancelled by price_change with its payment", got)
			}
			want := mustJSON(t, events.OrderRefundRequested{OrderID: o.ID, PaymentID: "pay-2", StripeID: "ch_2"})
			if got := outboxPayloads(t, db, events.SubjectOrderRefundRequested); len(got) != 1 || got[0] != want {
				t.Errorf("refund requests = %v, want one %s", got, want)
			}
			if n := outboxCount(t, db, events.SubjectOrderCancelled); n != cancelled {
				t.Errorf("order.cancelled events %d → %d, want none new", cancelled, n)
			}
			// A late copy of its payment.created asks for no second refund.
			pay := events.PaymentCreated{ID: "pay-2", OrderID: o.ID, StripeID: "ch_2"}
			publish(t, bus, pay)
			natsbustest.Eventually(t, waitFor, "payment.created acked", func() bool { return sp.count(t, pay, true) == 1 })
			if n := outboxCount(t, db, events.SubjectOrderRefundRequested); n != 1 {
				t.Errorf("refund requests = %d, want still 1", n)
			}
			// The buyer never had the ticket: someone else may order it.
			if _, err := f.svc.Reserve(ctx, "carol", "t2", ""); err != nil {
				t.Errorf("reserve the refused order's ticket: %v", err)
			}
		})

		t.Run("order the buyer cancelled first stays so", func(t *testing.T) {
			o, err := f.svc.Reserve(ctx, "dave", "t3", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Cancel(ctx, "dave", o.ID); err != nil {
				t.Fatal(err)
			}
			cancelled := outboxCount(t, db, events.SubjectOrderCancelled)
			deliverTwice(t, refused(o))
			if got := order(t, "dave", o.ID); got.Status != orders.StatusCancelled || got.CancelledBy != events.CancelledByBuyer || got.Version != 1 {
				t.Errorf("order = %s v%d by %q, want cancelled v1 by buyer", got.Status, got.Version, got.CancelledBy)
			}
			if n := outboxCount(t, db, events.SubjectOrderCancelled); n != cancelled {
				t.Errorf("order.cancelled events %d → %d, want none new", cancelled, n)
			}
		})

		t.Run("unknown order is terminated", func(t *testing.T) {
			ev := events.TicketReservationRefused{TicketID: "t1", OrderID: "no-such-order", Reason: events.RefusedNotAvailable}
			publish(t, bus, ev)
			cons, err := bus.JetStream().Consumer(ctx, events.Stream, natsbus.DurableName("orders", events.SubjectTicketReservationRefused))
			if err != nil {
				t.Fatal(err)
			}
			if cons.CachedInfo().Name != "orders-ticket-reservation_refused" {
				t.Errorf("durable consumer %q", cons.CachedInfo().Name)
			}
			natsbustest.Eventually(t, waitFor, "message settled", func() bool {
				info, err := cons.Info(ctx)
				return err == nil && sp.count(t, ev, false) == 1 && info.NumAckPending == 0 && info.NumPending == 0
			})
		})
	}, migs...)
}

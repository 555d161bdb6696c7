package orders_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestOrderPay(t *testing.T) {
	t.Parallel()
	p := orders.Payment{ID: "p1", StripeID: "ch_1"}
	tests := []struct {
		name        string
		order       orders.Order
		want        orders.PaymentOutcome
		wantStatus  orders.Status
		wantVersion int64
	}{
		{"created becomes complete", orders.Order{Status: orders.StatusCreated, Version: 0}, orders.PaymentApplied, orders.StatusComplete, 1},
		{"awaiting payment becomes complete", orders.Order{Status: orders.StatusAwaitingPayment, Version: 2}, orders.PaymentApplied, orders.StatusComplete, 3},
		{"same payment again changes nothing", orders.Order{Status: orders.StatusComplete, Version: 1, PaymentID: "p1"}, orders.PaymentSeen, orders.StatusComplete, 1},
		{"cancelled stays cancelled and refunds", orders.Order{Status: orders.StatusCancelled, Version: 1}, orders.PaymentRefund, orders.StatusCancelled, 2},
		{"refund already requested", orders.Order{Status: orders.StatusCancelled, Version: 2, PaymentID: "p1"}, orders.PaymentSeen, orders.StatusCancelled, 2},
		{"paid by another payment refunds this one", orders.Order{Status: orders.StatusComplete, Version: 1, PaymentID: "p0"}, orders.PaymentRefund, orders.StatusComplete, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.order
			if got := o.Pay(p); got != tt.want {
				t.Errorf("Pay = %v, want %v", got, tt.want)
			}
			if o.Status != tt.wantStatus || o.Version != tt.wantVersion {
				t.Errorf("order = %s v%d, want %s v%d", o.Status, o.Version, tt.wantStatus, tt.wantVersion)
			}
		})
	}
}

// TestPaymentCreated delivers payment.created through real NATS: twice for
// a pending order (complete once), and for an order that expired first (it
// stays cancelled and exactly one refund is requested).
func TestPaymentCreated(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		f.addTicket(t, "t1", "Show", 1000)
		f.addTicket(t, "t2", "Show", 1000)

		t.Run("twice completes once", func(t *testing.T) {
			o, err := f.svc.Reserve(ctx, "alice", "t1", "")
			if err != nil {
				t.Fatal(err)
			}
			ev := events.PaymentCreated{ID: "pay-1", OrderID: o.ID, StripeID: "ch_1"}
			publish(t, bus, ev, ev)
			natsbustest.Eventually(t, waitFor, "both deliveries acked", func() bool { return sp.count(t, ev, true) == 2 })
			got, err := f.svc.Order(ctx, "alice", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != orders.StatusComplete || got.Version != 1 {
				t.Errorf("order = %s v%d, want complete v1", got.Status, got.Version)
			}
			if n := outboxCount(t, db, events.SubjectOrderRefundRequested); n != 0 {
				t.Errorf("refunds requested = %d, want 0", n)
			}
			// tickets learns the sale: one order.completed, versioned.
			completed := outboxPayloads(t, db, events.SubjectOrderCompleted)
			want := mustJSON(t, events.OrderCompleted{ID: o.ID, Version: 1, UserID: "alice", Ticket: events.OrderTicket{ID: "t1"}})
			if len(completed) != 1 || completed[0] != want {
				t.Errorf("order.completed = %v, want one %s", completed, want)
			}
			// A paid order can neither be cancelled by its buyer nor expire.
			if err := f.svc.Cancel(ctx, "alice", o.ID); err == nil {
				t.Error("cancel of a complete order succeeded")
			}
		})

		t.Run("after expiry refunds once", func(t *testing.T) {
			o, err := f.svc.Reserve(ctx, "bob", "t2", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Expire(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
			ev := events.PaymentCreated{ID: "pay-2", OrderID: o.ID, StripeID: "ch_2"}
			publish(t, bus, ev, ev)
			natsbustest.Eventually(t, waitFor, "both deliveries acked", func() bool { return sp.count(t, ev, true) == 2 })
			got, err := f.svc.Order(ctx, "bob", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != orders.StatusCancelled {
				t.Errorf("order = %s, want cancelled", got.Status)
			}
			if n := len(outboxPayloads(t, db, events.SubjectOrderCompleted)); n != 1 {
				t.Errorf("order.completed events = %d, want only the first test's", n)
			}
			payloads := outboxPayloads(t, db, events.SubjectOrderRefundRequested)
			want := mustJSON(t, events.OrderRefundRequested{OrderID: o.ID, PaymentID: "pay-2", StripeID: "ch_2"})
			if len(payloads) != 1 || payloads[0] != want {
				t.Errorf("refund requests = %v, want one %s", payloads, want)
			}
		})
	}, migs...)
}

// TestResoldTicketCanBeOrdered: the unique index covers unpaid orders only,
// so a paid order does not hold its ticket for ever; whether the ticket may
// be ordered comes from its status in the replica (DESIGN.md sections 5
// and 9).
func TestResoldTicketCanBeOrdered(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{})
		f.addTicket(t, "t1", "Show", 1000)
		o, err := f.svc.Reserve(ctx, "alice", "t1", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, o.ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		ticket := func(v int64, status string) {
			t.Helper()
			if err := f.svc.UpdateTicket(ctx, orders.Ticket{ID: "t1", Title: "Show", Price: 1000, Version: v, Status: status}); err != nil {
				t.Fatal(err)
			}
		}
		ticket(1, events.TicketReserved)
		ticket(2, events.TicketSold)
		if _, err := f.svc.Reserve(ctx, "bob", "t1", ""); !errors.Is(err, orders.ErrTicketNotAvailable) {
			t.Fatalf("order of a sold ticket = %v, want ErrTicketNotAvailable", err)
		}
		ticket(3, events.TicketOnSale) // listed again by its new holder
		if _, err := f.svc.Reserve(ctx, "bob", "t1", ""); err != nil {
			t.Fatalf("order of a resold ticket = %v, want it ordered", err)
		}
	}, migs...)
}

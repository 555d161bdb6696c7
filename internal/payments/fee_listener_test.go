package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// order.created carries the fee, the total and the payee since fees: the
// replica keeps them and the charge is the total. One from before fees
// (neither field) charges the price alone; one whose total is not price +
// fee is never stored (the runner terminates it).
func TestOrderCreatedFee(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	f := newFixture(t, db, nil)
	bus := listening(t, f)
	ctx := context.Background()
	i64 := func(v int64) *int64 { return &v }
	withFee, old, wrong := uuid.NewString(), uuid.NewString(), uuid.NewString()
	exp := f.clock.Now().Add(15 * time.Minute)
	publish(t, bus, events.OrderCreated{ID: withFee, Status: events.StatusCreated, UserID: "buyer", ExpiresAt: exp,
		Ticket: events.OrderTicket{ID: "t1", Price: 2050}, Fee: i64(255), Total: i64(2305), SellerID: "org", Payee: events.PayeeOrganizer})
	publish(t, bus, events.OrderCreated{ID: old, Status: events.StatusCreated, UserID: "buyer", ExpiresAt: exp,
		Ticket: events.OrderTicket{ID: "t2", Price: 2050}})
	publish(t, bus, events.OrderCreated{ID: wrong, Status: events.StatusCreated, UserID: "buyer", ExpiresAt: exp,
		Ticket: events.OrderTicket{ID: "t3", Price: 2050}, Fee: i64(255), Total: i64(9999)})
	settled(t, bus, string(events.SubjectOrderCreated))

	o, err := f.svc.Order(ctx, withFee)
	if err != nil || o.Fee != 255 || o.Total() != 2305 || o.SellerID != "org" || o.Payee != events.PayeeOrganizer {
		t.Fatalf("replica of the order with a fee: %+v, %v", o, err)
	}
	if _, err := f.svc.Order(ctx, wrong); !errors.Is(err, payments.ErrOrderNotFound) {
		t.Errorf("an order whose total is not price + fee was stored: %v", err)
	}
	for id, want := range map[string]int64{withFee: 2305, old: 2050} {
		p, err := f.svc.Pay(ctx, "buyer", id, "tok_visa")
		if err != nil {
			t.Fatal(err)
		}
		if req, _ := f.sandbox.ChargeOf(p.StripeID); int64(req.Amount) != want {
			t.Errorf("order %s charged %d, want %d", id, req.Amount, want)
		}
	}
	r := books(t, db)
	if !r.OK() || r.Cash != 2305+2050 || r.PlatformFees != -255 {
		t.Errorf("books: %+v", r)
	}
}

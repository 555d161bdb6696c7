package orders_test

import (
	"context"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// The fee is taken once, when the order is made: a later change of the
// fee settings (a restart with other SERVICE_FEE_*) changes neither what
// the order shows nor what it charges.
func TestFeeStoredAtOrderTime(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Window: 10 * time.Minute, Fee: orders.DefaultFee})
		f.addTicket(t, "t-fee", "Concert", 2005)
		o, err := f.svc.Reserve(ctx, "bob", "t-fee", "")
		if err != nil {
			t.Fatal(err)
		}
		// 10% of 2005 is 200.5 cents: half up to 201, plus 50.
		if o.Fee != 251 || o.Total() != 2256 {
			t.Fatalf("fee %d, total %d; want 251 and 2256", o.Fee, o.Total())
		}
		if ev := o.Created(); ev.Fee == nil || *ev.Fee != 251 || ev.Total == nil || *ev.Total != 2256 || ev.EventID != "" {
			t.Errorf("order.created fee %v total %v eventId %q (a free-form listing has none)", ev.Fee, ev.Total, ev.EventID)
		}
		later := newFixture(t, db, orders.Config{Window: 10 * time.Minute, Fee: money.FeeRule{Basis: 2500, Fixed: 99}})
		got, err := later.svc.Order(ctx, "bob", o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Fee != 251 || got.Total() != 2256 || got.Ticket.Price != 2005 {
			t.Errorf("after the fee changed: price %d fee %d total %d; want 2005, 251, 2256", got.Ticket.Price, got.Fee, got.Total())
		}
	}, migs...)
}

// An event's ticket bought from its organizer (by event) names the
// organizer as payee in order.created; the same kind of ticket ordered by
// its id names its seller. Both carry the fee.
func TestCreatedNamesPayee(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Fee: orders.DefaultFee})
		ids := f.issue(t, "ev-fee", 2, time.Time{})
		byEvent, err := f.svc.ReserveFromEvent(ctx, "buyer", "ev-fee", "")
		if err != nil {
			t.Fatal(err)
		}
		ev := byEvent.Created()
		if ev.Payee != events.PayeeOrganizer || ev.SellerID != "organizer" || *ev.Fee != 500 || *ev.Total != 5000 {
			t.Errorf("by event: payee %q seller %q fee %d total %d; want organizer, organizer, 500, 5000", ev.Payee, ev.SellerID, *ev.Fee, *ev.Total)
		}
		other := ids[0]
		if other == byEvent.Ticket.ID {
			other = ids[1]
		}
		byID, err := f.svc.Reserve(ctx, "buyer2", other, "")
		if err != nil {
			t.Fatal(err)
		}
		if ev := byID.Created(); ev.Payee != events.PayeeSeller || ev.SellerID != "organizer" {
			t.Errorf("by id: payee %q seller %q", ev.Payee, ev.SellerID)
		}
		// Both name the event (payments holds the proceeds until its end).
		if byEvent.Created().EventID != "ev-fee" || byID.Created().EventID != "ev-fee" {
			t.Errorf("order.created eventId: by event %q, by id %q; want ev-fee", byEvent.Created().EventID, byID.Created().EventID)
		}
	}, migs...)
}

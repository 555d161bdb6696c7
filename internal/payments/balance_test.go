package payments_test

import (
	"context"
	"encoding/json"
	"github.com/google/uuid"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// balance reads GET /api/payments/balance as tok.
func (f *fixture) balance(t *testing.T, tok string) map[string]string {
	t.Helper()
	w := request(f.handler, http.MethodGet, "/api/payments/balance", "", tok)
	if w.Code != http.StatusOK {
		t.Fatalf("balance = %d %s", w.Code, w.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range raw {
		out[k] = string(v)
	}
	return out
}

// A seller's proceeds are held until the event's end plus the hold (a
// free-form listing's: its sale plus the hold), then available; refunded
// sales and other users' do not count; moving the event moves them back.
func TestBalanceHeldUntilEventEndPlusHold(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		ctx := context.Background()
		sam, buyer := token(t, "sam"), token(t, "buyer")
		t0 := f.clock.Now()
		ev := events.EventState{ID: "ev-1", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour)}
		if err := f.svc.ApplyEvent(ctx, ev, true); err != nil {
			t.Fatal(err)
		}
		add := func(id, seller, payee, eventID string, price money.Cents) {
			t.Helper()
			err := f.svc.AddOrder(ctx, payments.Order{ID: id, UserID: "buyer", Price: price, Fee: 250,
				SellerID: seller, Payee: payee, EventID: eventID, Status: events.StatusCreated,
				ExpiresAt: t0.Add(15 * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if w := f.pay(id, "tok_visa", buyer); w.Code != http.StatusCreated {
				t.Fatalf("pay %s = %d %s", id, w.Code, w.Body)
			}
		}
		add("o-resale", "sam", events.PayeeSeller, "ev-1", 2000)     // due t0+3h+48h
		add("o-primary", "sam", events.PayeeOrganizer, "ev-1", 3000) // the same, as organizer
		add("o-free", "sam", events.PayeeSeller, "", 1000)           // due t0+48h
		add("o-unknown", "sam", events.PayeeSeller, "ev-later", 400) // event not replicated yet
		add("o-refunded", "sam", events.PayeeSeller, "", 700)        // refunded: owed nothing
		add("o-other", "someone", events.PayeeSeller, "", 900)       // not sam's
		var refundID string
		if err := db.Read().QueryRow(`SELECT id FROM payments WHERE order_id = 'o-refunded'`).Scan(&refundID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Refund(ctx, refundID); err != nil {
			t.Fatal(err)
		}

		want := func(held, available, paid string) {
			t.Helper()
			got := f.balance(t, sam)
			if got["held"] != held || got["available"] != available || got["paid"] != paid {
				t.Errorf("at t0+%v: balance = %v, want held %s available %s paid %s",
					f.clock.Now().Sub(t0), got, held, available, paid)
			}
		}
		want(`64`, `0`, `0`)
		f.clock.Advance(48*time.Hour - time.Millisecond)
		want(`64`, `0`, `0`)
		f.clock.Advance(time.Millisecond) // the free-form sale is due
		want(`54`, `10`, `0`)
		f.clock.Advance(3*time.Hour - time.Millisecond)
		want(`54`, `10`, `0`)
		f.clock.Advance(time.Millisecond) // the event's end plus the hold
		want(`4`, `60`, `0`)
		// The event replica arrives late: its order is due at once.
		if err := f.svc.ApplyEvent(ctx, events.EventState{ID: "ev-later", StartsAt: t0.Add(-events.DefaultEventLength)}, true); err != nil {
			t.Fatal(err)
		}
		want(`0`, `64`, `0`)
		// The organizer moves ev-1 a day later: held again.
		ev.Version, ev.EndsAt = 1, ev.EndsAt.Add(24*time.Hour)
		if err := f.svc.ApplyEvent(ctx, ev, false); err != nil {
			t.Fatal(err)
		}
		want(`50`, `14`, `0`)
		if got := f.balance(t, token(t, "nobody")); got["held"] != `0` || got["available"] != `0` {
			t.Errorf("a user without sales: %v", got)
		}
	}, migs...)
}

// PAYOUT_HOLD shorter than the default moves the due time with it.
func TestBalanceHoldConfigured(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	f := newFixture(t, db, nil)
	f.reconfigure(t, f.sandbox, payments.Config{PayoutHold: time.Minute})
	ctx := context.Background()
	err := f.svc.AddOrder(ctx, payments.Order{ID: "o-1", UserID: "buyer", Price: 1500, SellerID: "sam",
		Payee: events.PayeeSeller, Status: events.StatusCreated, ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if w := f.pay("o-1", "tok_visa", token(t, "buyer")); w.Code != http.StatusCreated {
		t.Fatalf("pay = %d %s", w.Code, w.Body)
	}
	if got := f.balance(t, token(t, "sam")); got["held"] != `15` {
		t.Errorf("just sold: %v", got)
	}
	f.clock.Advance(time.Minute)
	if got := f.balance(t, token(t, "sam")); got["held"] != `0` || got["available"] != `15` {
		t.Errorf("a minute later: %v", got)
	}
}

func TestDueAt(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 20, 0, 0, 0, time.UTC)
	hold := 48 * time.Hour
	for _, tc := range []struct {
		name         string
		event        string
		starts, ends time.Time
		want         time.Time
		ok           bool
	}{
		{"free-form", "", time.Time{}, time.Time{}, t0.Add(hold), true},
		{"ends", "e", t0, t0.Add(2 * time.Hour), t0.Add(2*time.Hour + hold), true},
		{"starts only", "e", t0, time.Time{}, t0.Add(events.DefaultEventLength + hold), true},
		{"unknown", "e", time.Time{}, time.Time{}, time.Time{}, false},
	} {
		due, ok := payments.DueAt(tc.event, tc.starts, tc.ends, t0, hold)
		if !due.Equal(tc.want) || ok != tc.ok {
			t.Errorf("%s: DueAt = %v %v, want %v %v", tc.name, due, ok, tc.want, tc.ok)
		}
	}
}

// Through the bus: order.created names the order's event, and event.*
// keep its times, so the proceeds are due at the event's end plus the
// hold.
func TestEventTimesFromTheBus(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	f := newFixture(t, db, nil)
	bus := listening(t, f)
	t0 := f.clock.Now()
	evID, orderID := uuid.NewString(), uuid.NewString()
	st := events.EventState{ID: evID, StartsAt: t0, EndsAt: t0.Add(2 * time.Hour)}
	publish(t, bus, events.EventCreated{EventState: st})
	st.Version, st.EndsAt = 1, t0.Add(5*time.Hour)
	publish(t, bus, events.EventUpdated{EventState: st})
	fee, total := int64(0), int64(1000)
	publish(t, bus, events.OrderCreated{ID: orderID, Status: events.StatusCreated, UserID: "buyer",
		ExpiresAt: t0.Add(15 * time.Minute), Ticket: events.OrderTicket{ID: "t1", Price: 1000}, Fee: &fee, Total: &total,
		SellerID: "sam", Payee: events.PayeeSeller, EventID: evID})
	settled(t, bus, string(events.SubjectOrderCreated))
	settled(t, bus, string(events.SubjectEventUpdated))
	if o, err := f.svc.Order(context.Background(), orderID); err != nil || o.EventID != evID {
		t.Fatalf("replica of the order: %+v, %v", o, err)
	}
	if _, err := f.svc.Pay(context.Background(), "buyer", orderID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5*time.Hour + payments.DefaultPayoutHold - time.Millisecond)
	if got := f.balance(t, token(t, "sam")); got["held"] != `10` {
		t.Errorf("before the updated end plus the hold: %v", got)
	}
	f.clock.Advance(time.Millisecond)
	if got := f.balance(t, token(t, "sam")); got["available"] != `10` {
		t.Errorf("at the updated end plus the hold: %v", got)
	}
}

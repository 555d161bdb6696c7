package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// refundedEvents are the payment.refunded events in the outbox.
func refundedEvents(t *testing.T, db *sqldb.DB) []events.PaymentRefunded {
	t.Helper()
	var out []events.PaymentRefunded
	for _, m := range outboxtest.Pending(t, db) {
		if m.Subject != events.SubjectPaymentRefunded {
			continue
		}
		var ev events.PaymentRefunded
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestRefundRunsOnce: the refund an event's cancellation asks for, its
// redelivery, and the refund the order-cancellation path asks for the
// same payment at the same moment give the money back once: one refund at
// the provider, one balanced refund in the ledger (the total, fee
// included), one payment.refunded announcing the total.
func TestRefundRunsOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		id := f.addFeeOrder(t, "buyer", "org", events.PayeeOrganizer, 4500, 500)
		p, err := f.svc.Pay(ctx, "buyer", id, "tok_visa")
		if err != nil {
			t.Fatal(err)
		}
		req := events.OrderRefundRequested{OrderID: id, PaymentID: p.ID, StripeID: p.StripeID}
		// The event's cancellation and its redelivery on the bus, while
		// two refunds of the same payment run side by side.
		publish(t, bus, req)
		publish(t, bus, req)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = f.svc.Refund(ctx, p.ID) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		settled(t, bus, events.SubjectOrderRefundRequested)
		if n := f.sandbox.Refunds(); n != 1 || !f.sandbox.Refunded(p.StripeID) {
			t.Errorf("the sandbox refunded %d times, want once", n)
		}
		if n := count(t, db, `SELECT count(*) FROM ledger_transactions WHERE order_id = $1 AND kind = 'refund'`, id); n != 1 {
			t.Errorf("%d refunds in the ledger, want 1", n)
		}
		r := books(t, db)
		if !r.OK() || r.Refunds != 1 || r.Cash != 0 || r.PlatformFees != 0 || r.Payables != 0 {
			t.Errorf("books after the refund: %+v", r)
		}
		evs := refundedEvents(t, db)
		if len(evs) != 1 || evs[0] != (events.PaymentRefunded{ID: p.ID, OrderID: id, Amount: 5000}) {
			t.Errorf("payment.refunded = %+v, want one of 5000 cents", evs)
		}
	}, migs...)
}

// fakeStripeRefunds answers as fakeStripe, and a refund as Stripe does.
func fakeStripeRefunds(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/refunds" {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"re_fake","object":"refund","status":"succeeded","payment_intent":%q,"amount":5000,"currency":"usd"}`,
			r.PostForm.Get("payment_intent"))
		return
	}
	fakeStripe(w, r)
}

// TestStripeRefundOnce: through Stripe, every refund request of a payment
// (asked for twice at once, then again) names its PaymentIntent and
// carries the key derived from the payment, "refund-<payment id>", so
// Stripe refunds once; the ledger books one refund. Against a recording
// fake of the API; the request's shape also against stripe-mock (skipped
// without one, except in CI), which keeps no state.
func TestStripeRefundOnce(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		rec := &recorder{}
		srv := httptest.NewServer(rec.wrap(http.HandlerFunc(fakeStripeRefunds)))
		t.Cleanup(srv.Close)
		db := sqldbtest.Open(t, sqldb.SQLite, migs...)
		f := newFixture(t, db, payments.NewStripe("sk_test_123", srv.URL))
		ctx := context.Background()
		id := f.addFeeOrder(t, "buyer", "org", events.PayeeOrganizer, 4500, 500)
		p, err := f.svc.Pay(ctx, "buyer", id, "pm_card_visa")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if err := f.svc.Refund(ctx, p.ID); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := f.svc.Refund(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		refunds := rec.of("/v1/refunds")
		if len(refunds) == 0 || len(refunds) > 2 {
			t.Fatalf("%d refund requests, want 1 or 2 (two at once may both reach Stripe, a later one does not)", len(refunds))
		}
		for _, r := range refunds {
			if r.form.Get("payment_intent") != "pi_fake" || r.key != "refund-"+p.ID || r.status != http.StatusOK || r.form.Has("amount") {
				t.Errorf("refund request %v (key %q) answered %d, want the whole pi_fake with key refund-%s", r.form, r.key, r.status, p.ID)
			}
		}
		if r := books(t, db); !r.OK() || r.Refunds != 1 || r.Cash != 0 {
			t.Errorf("books after the refund: %+v", r)
		}
	})
	t.Run("stripe-mock", func(t *testing.T) {
		target, err := url.Parse(payments.StripeMock(t))
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		srv := httptest.NewServer(rec.wrap(httputil.NewSingleHostReverseProxy(target)))
		t.Cleanup(srv.Close)
		p := payments.NewStripe("sk_test_123", srv.URL)
		req := payments.RefundRequest{ChargeID: "pi_123", IdempotencyKey: "refund-0195f0a4-0000-7000-8000-000000000001"}
		for range 2 {
			if err := p.Refund(context.Background(), req); err != nil {
				t.Fatalf("refund: %v", err)
			}
		}
		for _, r := range rec.of("/v1/refunds") {
			if r.status != http.StatusOK || r.form.Get("payment_intent") != "pi_123" || r.key != req.IdempotencyKey {
				t.Errorf("refund request %v (key %q) answered %d", r.form, r.key, r.status)
			}
		}
		if n := len(rec.of("/v1/refunds")); n != 2 {
			t.Errorf("%d refund requests reached stripe-mock, want 2", n)
		}
	})
}

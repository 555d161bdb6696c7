package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// whSecret is the test endpoint's signing secret.
const whSecret = "whsec_test_0123456789abcdef"

// stripeEvent is an event as Stripe (and stripe-mock's fixtures) shape it,
// around obj.
func stripeEvent(id string, typ stripe.EventType, obj map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": obj},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// intentEvent is a payment_intent.* event about an intent of orderID.
func intentEvent(id string, typ stripe.EventType, intentID, orderID string) []byte {
	status := "succeeded"
	if typ == stripe.EventTypePaymentIntentPaymentFailed {
		status = "requires_payment_method"
	}
	return stripeEvent(id, typ, map[string]any{
		"id": intentID, "object": "payment_intent", "amount": 2000, "currency": "usd", "status": status,
		"livemode": false, "payment_method_types": []string{"card"},
		"metadata": map[string]string{"order_id": orderID},
	})
}

// disputeEvent is a charge.dispute.created event about the charge
// intentID.
func disputeEvent(id, disputeID, intentID string) []byte {
	return stripeEvent(id, stripe.EventTypeChargeDisputeCreated, map[string]any{
		"id": disputeID, "object": "dispute", "amount": 2000, "currency": "usd", "charge": "ch_" + intentID,
		"payment_intent": intentID, "reason": "fraudulent", "status": "needs_response", "livemode": false,
		"is_charge_refundable": false, "metadata": map[string]string{},
	})
}

// deliver posts body to the webhook as Stripe does, signed with secret at
// ts (zero: now).
func (f *fixture) deliver(body []byte, secret string, ts time.Time) *httptest.ResponseRecorder {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts})
	return f.deliverSigned(body, sp.Header)
}

func (f *fixture) deliverSigned(body []byte, header string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/api/payments/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if header != "" {
		r.Header.Set("Stripe-Signature", header)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// newWebhookFixture is newFixture whose service has the webhook's secret.
func newWebhookFixture(t *testing.T, db *sqldb.DB, p payments.Provider) *fixture {
	t.Helper()
	f := newFixture(t, db, p)
	if p == nil {
		p = f.sandbox
	}
	f.reconfigure(t, p, payments.Config{WebhookSecret: whSecret})
	return f
}

// TestWebhookSignature: only a body signed with the endpoint's secret, as
// it is, in the last five minutes, is processed; anything else is a JSON
// 400 with code bad_signature, never a 500, and nothing is recorded.
func TestWebhookSignature(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newWebhookFixture(t, db, nil)
		body := intentEvent("evt_sig", stripe.EventTypePaymentIntentSucceeded, "pi_sig", "o-none")
		good := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: whSecret}).Header
		tampered := bytes.Replace(body, []byte(`"amount":2000`), []byte(`"amount":1`), 1)
		tests := []struct {
			name   string
			body   []byte
			header string
		}{
			{"tampered body", tampered, good},
			{"wrong secret", body, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_other"}).Header},
			{"old timestamp", body, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: whSecret,
				Timestamp: time.Now().Add(-10 * time.Minute)}).Header},
			{"missing header", body, ""},
			{"garbage header", body, "t=x,v1=zz"},
			{"no v1 signature", body, "t=" + fmt.Sprint(time.Now().Unix())},
		}
		for _, tc := range tests {
			w := f.deliverSigned(tc.body, tc.header)
			if w.Code != http.StatusBadRequest || !bytes.Contains(w.Body.Bytes(), []byte(`"code":"bad_signature"`)) {
				t.Errorf("%s: %d %s, want 400 bad_signature", tc.name, w.Code, w.Body)
			}
		}
		if n := count(t, db, `SELECT count(*) FROM webhook_events`); n != 0 {
			t.Fatalf("%d events recorded from bad signatures", n)
		}
		if w := f.deliverSigned(body, good); w.Code != http.StatusOK {
			t.Fatalf("good signature: %d %s, want 200", w.Code, w.Body)
		}
		if n := count(t, db, `SELECT count(*) FROM webhook_events WHERE id = 'evt_sig'`); n != 1 {
			t.Fatalf("good event recorded %d times, want 1", n)
		}
		// Signed, but not an event.
		for _, b := range []string{`{}`, `[]`, `{"object":"event","id":"evt_x"}`, `not json`} {
			if w := f.deliver([]byte(b), whSecret, time.Time{}); w.Code != http.StatusBadRequest {
				t.Errorf("signed %s: %d %s, want 400", b, w.Code, w.Body)
			}
		}
		// Over the body limit: 413.
		big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), 70<<10)...)
		if w := f.deliver(big, whSecret, time.Time{}); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("big body: %d, want 413", w.Code)
		}
	}, migs...)
}

// TestWebhookOff: without a secret (the sandbox in `up`) the route is a
// JSON 404, whatever is sent.
func TestWebhookOff(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		body := intentEvent("evt_off", stripe.EventTypePaymentIntentSucceeded, "pi_off", "o-1")
		if w := f.deliver(body, whSecret, time.Time{}); w.Code != http.StatusNotFound {
			t.Fatalf("webhook without a secret: %d %s, want 404", w.Code, w.Body)
		}
	}, migs...)
}

// TestWebhookReconciles: a payment_intent event resolves the order's claim
// left pending by an unknown outcome at once, through the reconciler's
// replay (charged once: recorded with one payment.created; declined: the
// claim is gone and the order payable again). Delivered again, or late
// (failed after succeeded), it changes nothing.
func TestWebhookReconciles(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		script []string
		typ    stripe.EventType
		want   payments.Status
	}{
		{"succeeded", "tok_visa", []string{lost}, stripe.EventTypePaymentIntentSucceeded, payments.StatusSucceeded},
		{"failed", "tok_chargeDeclined", []string{down}, stripe.EventTypePaymentIntentPaymentFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				p := newScripted(tc.script...)
				f := newWebhookFixture(t, db, p)
				f.sandbox = p.Sandbox
				unknownOutcome(t, f, tc.token)

				// Not yet due for the reconciler: the webhook does it now.
				body := intentEvent("evt_1", tc.typ, "pi_1", "o-1")
				if w := f.deliver(body, whSecret, time.Time{}); w.Code != http.StatusOK {
					t.Fatalf("webhook: %d %s", w.Code, w.Body)
				}
				if _, st := paymentOf(t, db, "o-1"); st != tc.want {
					t.Fatalf("payment after the webhook is %q, want %q", st, tc.want)
				}
				check := func(when string) {
					t.Helper()
					if n := len(p.calls()); n != 2 {
						t.Fatalf("%s: %d charge calls, want 2 (the buyer's, the replay)", when, n)
					}
					created := outboxtest.Payloads[events.PaymentCreated](t, db, events.SubjectPaymentCreated)
					if want := map[bool]int{true: 1}[tc.want == payments.StatusSucceeded]; len(created) != want || f.sandbox.Charges() != want {
						t.Fatalf("%s: %d payment.created, %d charges, want %d", when, len(created), f.sandbox.Charges(), want)
					}
				}
				check("after the webhook")

				// Again, and the other outcome late: nothing changes.
				other := stripe.EventTypePaymentIntentPaymentFailed
				if tc.typ == other {
					other = stripe.EventTypePaymentIntentSucceeded
				}
				for _, b := range [][]byte{body, intentEvent("evt_2", other, "pi_1", "o-1")} {
					if w := f.deliver(b, whSecret, time.Time{}); w.Code != http.StatusOK {
						t.Fatalf("webhook again: %d %s", w.Code, w.Body)
					}
				}
				if _, st := paymentOf(t, db, "o-1"); st != tc.want {
					t.Fatalf("payment after redelivery is %q, want %q", st, tc.want)
				}
				check("after redelivery")
				if tc.want == "" {
					// Payable again, with another card.
					if w := f.pay("o-1", "tok_visa", token(t, "alice")); w.Code != http.StatusCreated {
						t.Fatalf("pay after the failure: %d %s", w.Code, w.Body)
					}
				}
			}, migs...)
		})
	}
}

// TestWebhookSettledIntent: an event about an order whose payment is
// settled, or unknown, or without an order, changes nothing.
func TestWebhookSettledIntent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newWebhookFixture(t, db, nil)
		f.addOrder(t, "o-1", "alice", 2000)
		if w := f.pay("o-1", "tok_visa", token(t, "alice")); w.Code != http.StatusCreated {
			t.Fatalf("pay: %d %s", w.Code, w.Body)
		}
		for i, b := range [][]byte{
			intentEvent("evt_a", stripe.EventTypePaymentIntentPaymentFailed, "pi_x", "o-1"),
			intentEvent("evt_b", stripe.EventTypePaymentIntentSucceeded, "pi_x", "o-unknown"),
			intentEvent("evt_c", stripe.EventTypePaymentIntentSucceeded, "pi_x", ""),
			stripeEvent("evt_d", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}),
		} {
			if w := f.deliver(b, whSecret, time.Time{}); w.Code != http.StatusOK {
				t.Fatalf("event %d: %d %s", i, w.Code, w.Body)
			}
		}
		if _, st := paymentOf(t, db, "o-1"); st != payments.StatusSucceeded || f.sandbox.Charges() != 1 {
			t.Fatalf("paid order after the events: %q, %d charges", st, f.sandbox.Charges())
		}
	}, migs...)
}

// TestWebhookDispute: a dispute of a charge is recorded and announced
// (payment.disputed) once, with the event id, however often it comes; a
// dispute of a charge that is not ours is acknowledged and ignored.
func TestWebhookDispute(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newWebhookFixture(t, db, nil)
		f.addOrder(t, "o-1", "alice", 2000)
		w := f.pay("o-1", "tok_visa", token(t, "alice"))
		if w.Code != http.StatusCreated {
			t.Fatalf("pay: %d %s", w.Code, w.Body)
		}
		var paid idBody
		json.Unmarshal(w.Body.Bytes(), &paid)
		p, err := f.svc.Payment(context.Background(), paid.ID)
		if err != nil {
			t.Fatal(err)
		}
		body := disputeEvent("evt_dp", "dp_1", p.StripeID)
		for range 2 {
			if w := f.deliver(body, whSecret, time.Time{}); w.Code != http.StatusOK {
				t.Fatalf("dispute: %d %s", w.Code, w.Body)
			}
		}
		// The same dispute in another event (Stripe never sends that, but
		// it must not announce twice either).
		if w := f.deliver(disputeEvent("evt_dp2", "dp_1", p.StripeID), whSecret, time.Time{}); w.Code != http.StatusOK {
			t.Fatalf("dispute again: %d %s", w.Code, w.Body)
		}
		got := outboxtest.Payloads[events.PaymentDisputed](t, db, events.SubjectPaymentDisputed)
		want := events.PaymentDisputed{ID: "dp_1", PaymentID: p.ID, OrderID: "o-1", UserID: "alice", ChargeID: p.StripeID}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("payment.disputed = %+v, want once %+v", got, want)
		}
		if d, err := f.svc.Disputed(context.Background(), "o-1"); err != nil || !d {
			t.Fatalf("disputed(o-1) = %v, %v", d, err)
		}
		if n := count(t, db, `SELECT count(*) FROM disputes`); n != 1 {
			t.Fatalf("%d disputes recorded, want 1", n)
		}

		// Not our charge.
		if w := f.deliver(disputeEvent("evt_dp3", "dp_2", "pi_elsewhere"), whSecret, time.Time{}); w.Code != http.StatusOK {
			t.Fatalf("foreign dispute: %d %s", w.Code, w.Body)
		}
		if n := len(outboxtest.Payloads[events.PaymentDisputed](t, db, events.SubjectPaymentDisputed)); n != 1 {
			t.Fatalf("%d payment.disputed after a foreign dispute, want 1", n)
		}
		// A dispute without a charge is refused.
		bad := stripeEvent("evt_dp4", stripe.EventTypeChargeDisputeCreated, map[string]any{"id": "dp_3", "object": "dispute"})
		if w := f.deliver(bad, whSecret, time.Time{}); w.Code != http.StatusBadRequest {
			t.Fatalf("dispute without a charge: %d %s, want 400", w.Code, w.Body)
		}
	}, migs...)
}

// mockObject fetches an API object of stripe-mock's fixtures (Stripe's
// OpenAPI examples: every field, expanded ones included) and applies set.
// TestWebhookAccountUpdated: Stripe's account.updated sets a connected
// payout account's state, pending or enabled; a redelivery and an account
// nobody here has change nothing.
func TestWebhookAccountUpdated(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newWebhookFixture(t, db, nil)
		ctx := context.Background()
		a, _, err := f.svc.ConnectAccount(ctx, "alice", "alice@example.com", "", "")
		if err != nil {
			t.Fatal(err)
		}
		status := func() string {
			var st string
			if err := db.Read().QueryRowContext(ctx, `SELECT status FROM payout_accounts WHERE account_id = $1`, a.AccountID).Scan(&st); err != nil {
				t.Fatal(err)
			}
			return st
		}
		if got := status(); got != payments.AccountEnabled {
			t.Fatalf("sandbox account = %s, want enabled", got)
		}
		account := func(id string, enabled bool) map[string]any {
			return map[string]any{"id": id, "object": "account", "details_submitted": enabled, "payouts_enabled": enabled}
		}
		for _, c := range []struct {
			event string
			obj   map[string]any
			want  string
		}{
			{"evt_acct_1", account(a.AccountID, false), payments.AccountPending},
			{"evt_acct_2", account(a.AccountID, true), payments.AccountEnabled},
			{"evt_acct_1", account(a.AccountID, false), payments.AccountEnabled}, // delivered again: nothing
			{"evt_acct_3", account("acct_elsewhere", false), payments.AccountEnabled},
		} {
			if w := f.deliver(stripeEvent(c.event, stripe.EventTypeAccountUpdated, c.obj), whSecret, time.Time{}); w.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", c.event, w.Code, w.Body)
			}
			if got := status(); got != c.want {
				t.Fatalf("after %s the account is %s, want %s", c.event, got, c.want)
			}
		}
		if w := f.deliver(stripeEvent("evt_acct_4", stripe.EventTypeAccountUpdated, map[string]any{"object": "account"}), whSecret, time.Time{}); w.Code != http.StatusBadRequest {
			t.Fatalf("account without an id: %d %s, want 400", w.Code, w.Body)
		}
	}, migs...)
}

func mockObject(t *testing.T, base, path string, set map[string]any) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.SetBasicAuth("sk_test_123", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var obj map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&obj); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	for k, v := range set {
		obj[k] = v
	}
	return obj
}

// TestWebhookStripeMockObjects: events around stripe-mock's own
// PaymentIntent and Dispute objects (not hand-made ones) are read and
// acted on: a pending claim settles, a dispute is announced.
func TestWebhookStripeMockObjects(t *testing.T) {
	base := payments.StripeMock(t)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		p := newScripted(lost)
		f := newWebhookFixture(t, db, p)
		f.sandbox = p.Sandbox
		unknownOutcome(t, f, "tok_visa")
		pi := mockObject(t, base, "/v1/payment_intents/pi_mock", map[string]any{
			"status": "succeeded", "metadata": map[string]string{"order_id": "o-1"}})
		if w := f.deliver(stripeEvent("evt_mock_pi", stripe.EventTypePaymentIntentSucceeded, pi), whSecret, time.Time{}); w.Code != http.StatusOK {
			t.Fatalf("payment_intent.succeeded: %d %s", w.Code, w.Body)
		}
		id, st := paymentOf(t, db, "o-1")
		if st != payments.StatusSucceeded {
			t.Fatalf("payment after payment_intent.succeeded is %q", st)
		}
		paid, err := f.svc.Payment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		dp := mockObject(t, base, "/v1/disputes/dp_mock", map[string]any{"payment_intent": paid.StripeID})
		if w := f.deliver(stripeEvent("evt_mock_dp", stripe.EventTypeChargeDisputeCreated, dp), whSecret, time.Time{}); w.Code != http.StatusOK {
			t.Fatalf("charge.dispute.created: %d %s", w.Code, w.Body)
		}
		got := outboxtest.Payloads[events.PaymentDisputed](t, db, events.SubjectPaymentDisputed)
		if len(got) != 1 || got[0].OrderID != "o-1" || got[0].ID != dp["id"] {
			t.Fatalf("payment.disputed = %+v, want one for o-1 and %v", got, dp["id"])
		}
	}, migs...)
}

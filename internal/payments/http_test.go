package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestPayStatuses(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		ctx := context.Background()
		alice, bob := token(t, "alice"), token(t, "bob")

		f.addOrder(t, "o-paid", "alice", 2000)
		if w := f.pay("o-paid", "tok_visa", alice); w.Code != http.StatusCreated {
			t.Fatalf("setup: pay o-paid = %d %s", w.Code, w.Body)
		}
		f.addOrder(t, "o-cancelled", "alice", 2000)
		if err := f.svc.CancelOrder(ctx, "o-cancelled", 1); err != nil {
			t.Fatal(err)
		}
		f.addOrder(t, "o-expired", "alice", 2000)
		f.clock.Advance(10 * 60e9) // o-expired is 5 minutes from its end now
		if err := f.svc.AddOrder(ctx, payments.Order{ID: "o-old", UserID: "alice", Price: 500,
			Status: events.StatusCreated, ExpiresAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name      string
			order     string // added for alice at 12.34 unless it exists
			body      string // raw body; empty: orderId and token below
			token     string
			as        string // session cookie
			want      int
			wantMsg   string
			wantField []string
		}{
			{name: "visa token", order: "o-1", token: "tok_visa", as: alice, want: 201},
			{name: "visa payment method", order: "o-2", token: "pm_card_visa", as: alice, want: 201},
			{name: "signed out", order: "o-3", token: "tok_visa", want: 401, wantMsg: "Not authorized"},
			{name: "missing fields", body: `{}`, as: alice, want: 400, wantField: []string{"orderId", "token"}},
			{name: "blank token", body: `{"orderId":"o-4","token":"  "}`, as: alice, want: 400, wantField: []string{"token"}},
			{name: "empty body", body: ` `, as: alice, want: 400, wantMsg: "Request body is empty"},
			{name: "bad json", body: `{"orderId":`, as: alice, want: 400},
			{name: "wrong type", body: `{"orderId":1,"token":"tok_visa"}`, as: alice, want: 400, wantField: []string{"orderId"}},
			{name: "unknown order", order: "-", body: `{"orderId":"nope","token":"tok_visa"}`, as: alice, want: 404, wantMsg: "Order not found"},
			// Not an id (ids.Valid): the same 404 on every engine, where
			// PostgreSQL would refuse the NUL with an error of its own.
			{name: "order id with NUL", order: "-", body: `{"orderId":"a\u0000b","token":"tok_visa"}`, as: alice, want: 404, wantMsg: "Order not found"},
			{name: "order id with a dot", order: "-", body: `{"orderId":"a.b","token":"tok_visa"}`, as: alice, want: 404, wantMsg: "Order not found"},
			{name: "huge order id", order: "-", body: `{"orderId":"` + strings.Repeat("x", 5000) + `","token":"tok_visa"}`, as: alice, want: 404, wantMsg: "Order not found"},
			{name: "someone else's order", order: "o-5", token: "tok_visa", as: bob, want: 401, wantMsg: "Not authorized"},
			{name: "cancelled order", order: "o-cancelled", token: "tok_visa", as: alice, want: 400, wantMsg: "Cannot pay for a cancelled order"},
			{name: "expired order", order: "o-old", token: "tok_visa", as: alice, want: 400, wantMsg: "Cannot pay for an expired order"},
			{name: "already paid", order: "o-paid", token: "pm_card_visa", as: alice, want: 400, wantMsg: "Order has already been paid"},
			{name: "declined token", order: "o-6", token: "tok_chargeDeclined", as: alice, want: 402, wantMsg: "Your card was declined."},
			{name: "declined payment method", order: "o-7", token: "pm_card_chargeDeclined", as: alice, want: 402, wantMsg: "Your card was declined."},
			{name: "invalid token", order: "o-8", token: "tok_bogus", as: alice, want: 400, wantField: []string{"token"}},
			{name: "not expired yet", order: "o-expired", token: "tok_visa", as: alice, want: 201},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.order != "" && tc.order != "-" {
					if _, err := f.svc.Order(ctx, tc.order); errors.Is(err, payments.ErrOrderNotFound) {
						f.addOrder(t, tc.order, "alice", 1234)
					}
				}
				body := tc.body
				if body == "" {
					b, _ := json.Marshal(map[string]string{"orderId": tc.order, "token": tc.token})
					body = string(b)
				}
				charges := f.sandbox.Charges()
				w := request(f.handler, http.MethodPost, "/api/payments", body, tc.as)
				if w.Code != tc.want {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body)
				}
				if tc.want == 201 {
					checkPaid(t, f, tc.order, httpapitest.Decode[idBody](t, w).ID)
					return
				}
				if got := f.sandbox.Charges(); got != charges {
					t.Errorf("charges went from %d to %d on a failed payment", charges, got)
				}
				eb := httpapitest.Decode[errorBody](t, w)
				if len(eb.Errors) == 0 {
					t.Fatalf("no errors in %s", w.Body)
				}
				if tc.wantMsg != "" && eb.Errors[0].Message != tc.wantMsg {
					t.Errorf("message = %q, want %q", eb.Errors[0].Message, tc.wantMsg)
				}
				if tc.wantField != nil {
					var fields []string
					for _, e := range eb.Errors {
						fields = append(fields, e.Field)
					}
					if strings.Join(fields, ",") != strings.Join(tc.wantField, ",") {
						t.Errorf("fields = %v, want %v", fields, tc.wantField)
					}
				}
				if tc.want == 402 || tc.want == 400 && tc.order != "" && tc.order != "o-paid" {
					if n := count(t, db, `SELECT count(*) FROM payments WHERE order_id = $1`, tc.order); n != 0 {
						t.Errorf("%d payments stored for a refused payment", n)
					}
				}
			})
		}
	}, migs...)
}

// checkPaid asserts that order was charged once, its price in cents in
// USD, and that one payment.created announces payment id.
func checkPaid(t *testing.T, f *fixture, orderID, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no payment id")
	}
	p, err := f.svc.Payment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.svc.Order(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	if p.OrderID != orderID || p.Status != payments.StatusSucceeded || !strings.HasPrefix(p.StripeID, "sandbox_ch_") {
		t.Errorf("payment = %+v", p)
	}
	if f.sandbox != nil {
		req, ok := f.sandbox.ChargeOf(p.StripeID)
		if !ok || req.Amount != o.Price || req.Currency != "usd" || req.IdempotencyKey == "" {
			t.Errorf("charge = %+v (found %v), want %d usd with a key", req, ok, o.Price)
		}
	}
	var found int
	for _, ev := range outboxtest.Payloads[events.PaymentCreated](t, f.db, events.SubjectPaymentCreated) {
		if ev.OrderID == orderID {
			found++
			if ev != (events.PaymentCreated{ID: id, OrderID: orderID, StripeID: p.StripeID}) {
				t.Errorf("event = %+v", ev)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d payment.created events for order %s, want 1", found, orderID)
	}
}

// Twenty payments of one order at the same moment: one charge, one 201.
func TestPayConcurrent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		const n = 20
		codes := make([]int, n)
		ids := make([]string, n)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				w := f.pay("o-1", "tok_visa", alice)
				codes[i] = w.Code
				if w.Code == http.StatusCreated {
					ids[i] = httpapitest.Decode[idBody](t, w).ID
				}
			})
		}
		close(start)
		wg.Wait()
		var created, refused int
		var id string
		for i, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
				id = ids[i]
			case http.StatusBadRequest:
				refused++
			default:
				t.Errorf("status %d", c)
			}
		}
		if created != 1 || refused != n-1 {
			t.Fatalf("%d created and %d refused, want 1 and %d (%v)", created, refused, n-1, codes)
		}
		if got := f.sandbox.Charges(); got != 1 {
			t.Errorf("charges = %d, want 1", got)
		}
		checkPaid(t, f, "o-1", id)
	}, migs...)
}

// A declined card leaves the order payable; a good card then pays it.
func TestPayDeclinedThenGood(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		w := f.pay("o-1", "tok_chargeDeclined", alice)
		if w.Code != http.StatusPaymentRequired {
			t.Fatalf("declined card: %d %s", w.Code, w.Body)
		}
		if msg := httpapitest.Decode[errorBody](t, w).Errors[0].Message; msg != "Your card was declined." {
			t.Errorf("message = %q", msg)
		}
		// The same declined card again: declined again (not "in progress").
		if w := f.pay("o-1", "pm_card_chargeDeclined", alice); w.Code != http.StatusPaymentRequired {
			t.Fatalf("declined again: %d %s", w.Code, w.Body)
		}
		w = f.pay("o-1", "pm_card_visa", alice)
		if w.Code != http.StatusCreated {
			t.Fatalf("good card: %d %s", w.Code, w.Body)
		}
		checkPaid(t, f, "o-1", httpapitest.Decode[idBody](t, w).ID)
		if got := f.sandbox.Charges(); got != 1 {
			t.Errorf("charges = %d, want 1", got)
		}
		if w := f.pay("o-1", "pm_card_visa", alice); w.Code != http.StatusBadRequest {
			t.Errorf("pay again: %d %s", w.Code, w.Body)
		}
	}, migs...)
}

// While one request charges, another is told a payment is in progress.
func TestPayInProgress(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		entered, release := make(chan struct{}), make(chan struct{})
		sb := payments.NewSandbox().(*payments.Sandbox)
		p := &hookProvider{Provider: sb, before: func(context.Context, payments.ChargeRequest) error {
			close(entered)
			<-release
			return nil
		}}
		f := newFixture(t, db, p)
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		done := make(chan int)
		go func() { done <- f.pay("o-1", "tok_visa", alice).Code }()
		<-entered
		w := f.pay("o-1", "tok_visa", alice)
		if w.Code != http.StatusBadRequest || httpapitest.Decode[errorBody](t, w).Errors[0].Message != "Payment already in progress" {
			t.Errorf("second payment: %d %s", w.Code, w.Body)
		}
		close(release)
		if code := <-done; code != http.StatusCreated {
			t.Errorf("first payment: %d", code)
		}
		if sb.Charges() != 1 {
			t.Errorf("charges = %d", sb.Charges())
		}
	}, migs...)
}

// A charge whose outcome is unknown (the provider charged, the answer was
// lost) answers 503 and keeps its claim; the next attempt, with any card,
// replays the same key, learns of the charge and records it: one charge.
func TestPayUnknownOutcomeReplayed(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		sb := payments.NewSandbox().(*payments.Sandbox)
		lost := true
		p := &hookProvider{Provider: sb, after: func(_ context.Context, _ payments.ChargeRequest, c payments.Charge, err error) (payments.Charge, error) {
			if lost {
				lost = false
				return payments.Charge{}, errors.New("connection reset")
			}
			return c, err
		}}
		f := newFixture(t, db, p)
		f.sandbox = sb
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		if w := f.pay("o-1", "tok_visa", alice); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("lost answer: %d %s", w.Code, w.Body)
		}
		w := f.pay("o-1", "pm_card_visa", alice)
		if w.Code != http.StatusCreated {
			t.Fatalf("retry: %d %s", w.Code, w.Body)
		}
		checkPaid(t, f, "o-1", httpapitest.Decode[idBody](t, w).ID)
		if sb.Charges() != 1 {
			t.Errorf("charges = %d, want 1", sb.Charges())
		}
	}, migs...)
}

// A claim whose lease ran out (its request crashed or hangs) is taken
// over; when the first request comes back after all, both agree on the
// one charge and one event.
func TestPayClaimTakenOver(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		sb := payments.NewSandbox().(*payments.Sandbox)
		entered, release := make(chan struct{}), make(chan struct{})
		first := true
		var mu sync.Mutex
		p := &hookProvider{Provider: sb, after: func(_ context.Context, _ payments.ChargeRequest, c payments.Charge, err error) (payments.Charge, error) {
			mu.Lock()
			hang := first
			first = false
			mu.Unlock()
			if hang {
				close(entered)
				<-release
			}
			return c, err
		}}
		f := newFixture(t, db, p)
		f.sandbox = sb
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		done := make(chan *idBody)
		go func() {
			w := f.pay("o-1", "tok_visa", alice)
			if w.Code != http.StatusCreated {
				t.Errorf("first: %d %s", w.Code, w.Body)
				done <- nil
				return
			}
			b := httpapitest.Decode[idBody](t, w)
			done <- &b
		}()
		<-entered
		f.clock.Advance(3 * 60e9) // past the lease
		w := f.pay("o-1", "tok_visa", alice)
		if w.Code != http.StatusCreated {
			t.Fatalf("takeover: %d %s", w.Code, w.Body)
		}
		id := httpapitest.Decode[idBody](t, w).ID
		close(release)
		if b := <-done; b != nil && b.ID != id {
			t.Errorf("first got payment %s, takeover %s", b.ID, id)
		}
		checkPaid(t, f, "o-1", id)
		if sb.Charges() != 1 {
			t.Errorf("charges = %d, want 1", sb.Charges())
		}
	}, migs...)
}

// A claim left with an unknown outcome that turns out declined frees the
// order, and the caller's own card pays it in the same request.
func TestPayStaleClaimDeclined(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		sb := payments.NewSandbox().(*payments.Sandbox)
		down := true
		p := &hookProvider{Provider: sb, before: func(context.Context, payments.ChargeRequest) error {
			if down {
				down = false
				return errors.New("provider down")
			}
			return nil
		}}
		f := newFixture(t, db, p)
		f.sandbox = sb
		f.addOrder(t, "o-1", "alice", 2000)
		alice := token(t, "alice")
		if w := f.pay("o-1", "tok_chargeDeclined", alice); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("provider down: %d %s", w.Code, w.Body)
		}
		w := f.pay("o-1", "tok_visa", alice)
		if w.Code != http.StatusCreated {
			t.Fatalf("retry: %d %s", w.Code, w.Body)
		}
		checkPaid(t, f, "o-1", httpapitest.Decode[idBody](t, w).ID)
	}, migs...)
}

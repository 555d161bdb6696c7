package payments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/ticketing/ticketing/internal/platform/fault"
)

// stripeMock returns the URL of a running stripe-mock: STRIPE_MOCK_URL if
// set, else the stripe-mock binary from PATH started on free loopback
// ports for this test. Without one the test is skipped, except in CI.
func stripeMock(t *testing.T) string {
	t.Helper()
	if url := os.Getenv("STRIPE_MOCK_URL"); url != "" {
		return url
	}
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		const how = "stripe-mock is not in PATH; install it with: go install github.com/stripe/stripe-mock@v0.203.0 (or set STRIPE_MOCK_URL)"
		if os.Getenv("CI") == "true" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	httpPort, httpsPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "-http-port", httpPort, "-https-port", httpsPort)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	url := "http://127.0.0.1:" + httpPort
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url + "/v1/charges")
		if err == nil {
			resp.Body.Close()
			return url
		}
		select {
		case <-exited:
			t.Fatalf("stripe-mock exited: %s", out)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not answer on %s: %v\n%s", url, err, out)
		}
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stripe-mock checks the shape of every request against Stripe's OpenAPI
// spec and answers fixtures: it proves the requests are well formed and
// the answers understood, not what Stripe would decide (its confirmed
// PaymentIntent always reads requires_payment_method). Outcomes are tested
// on the sandbox.
func TestStripeAgainstMock(t *testing.T) {
	p := NewStripe("sk_test_123", stripeMock(t)).(*stripeProvider)
	ctx := context.Background()
	for _, tok := range []string{"tok_visa", "pm_card_visa"} {
		t.Run(tok, func(t *testing.T) {
			req := ChargeRequest{Amount: 2050, Currency: Currency, Token: tok,
				IdempotencyKey: "charge-test-" + tok, OrderID: "o-1"}
			pi, err := p.confirmIntent(ctx, req)
			if err != nil {
				t.Fatalf("payment intent: %v", err)
			}
			if !strings.HasPrefix(pi.ID, "pi_") {
				t.Errorf("payment intent id = %q", pi.ID)
			}
			// Through the public method: a charge, or the fixture's status
			// read as a decline; never a refused request.
			_, err = p.Charge(ctx, req)
			var fe *fault.Error
			if err != nil && !(errors.As(err, &fe) && fe.Kind == fault.Declined) {
				t.Errorf("charge: %v", err)
			}
			if err := p.Refund(ctx, RefundRequest{ChargeID: pi.ID, IdempotencyKey: "refund-test-" + tok}); err != nil {
				t.Errorf("refund: %v", err)
			}
		})
	}
	t.Run("not a token", func(t *testing.T) {
		_, err := p.Charge(ctx, ChargeRequest{Amount: 2050, Currency: Currency, Token: "4242424242424242"})
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field != "token" {
			t.Errorf("err = %v, want an invalid token", err)
		}
	})
}

// A fake Stripe answering errors, to check how each is read.
func TestStripeErrors(t *testing.T) {
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/payment_methods":
			io.WriteString(w, `{"id":"pm_from_token","object":"payment_method"}`)
		case r.URL.Path == "/v1/refunds":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge has already been refunded."}}`)
		case strings.Contains(string(body), "payment_method=pm_card_chargeDeclined"):
			w.WriteHeader(http.StatusPaymentRequired)
			io.WriteString(w, `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}`)
		case strings.Contains(string(body), "payment_method=pm_from_token"):
			io.WriteString(w, `{"id":"pi_ok","object":"payment_intent","status":"succeeded"}`)
		case strings.Contains(string(body), "payment_method=pm_missing"):
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","param":"payment_method","message":"No such PaymentMethod: 'pm_missing'"}}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
		}
	}))
	defer srv.Close()
	p := NewStripe("sk_test_123", srv.URL)
	ctx := context.Background()

	c, err := p.Charge(ctx, ChargeRequest{Amount: 100, Currency: Currency, Token: "tok_visa", IdempotencyKey: "k1"})
	if err != nil || c.ID != "pi_ok" {
		t.Errorf("token charge = %+v, %v", c, err)
	}
	mu.Lock()
	if got := strings.Join(keys, ","); got != "/v1/payment_methods k1-pm,/v1/payment_intents k1" {
		t.Errorf("requests = %s", got)
	}
	mu.Unlock()

	_, err = p.Charge(ctx, ChargeRequest{Amount: 100, Currency: Currency, Token: "pm_card_chargeDeclined", IdempotencyKey: "k2"})
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Declined || fe.Message != "Your card was declined." {
		t.Errorf("declined: %v", err)
	}
	_, err = p.Charge(ctx, ChargeRequest{Amount: 100, Currency: Currency, Token: "pm_missing", IdempotencyKey: "k3"})
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field != "token" {
		t.Errorf("unknown payment method: %v", err)
	}
	_, err = p.Charge(ctx, ChargeRequest{Amount: 100, Currency: Currency, Token: "pm_other", IdempotencyKey: "k4"})
	if err == nil || errors.As(err, &fe) {
		t.Errorf("bad API key = %v, want an unknown outcome (no fault kind)", err)
	}
	if err := p.Refund(ctx, RefundRequest{ChargeID: "pi_ok", IdempotencyKey: "r1"}); !errors.Is(err, ErrAlreadyRefunded) {
		t.Errorf("refund again = %v, want ErrAlreadyRefunded", err)
	}
}

func TestIntentResult(t *testing.T) {
	tests := []struct {
		status   stripe.PaymentIntentStatus
		lastErr  *stripe.Error
		wantKind fault.Kind // Internal: a charge
		wantMsg  string
		unknown  bool
	}{
		{status: stripe.PaymentIntentStatusSucceeded},
		{status: stripe.PaymentIntentStatusProcessing},
		{status: stripe.PaymentIntentStatusRequiresPaymentMethod, lastErr: &stripe.Error{Msg: "Your card has insufficient funds."},
			wantKind: fault.Declined, wantMsg: "Your card has insufficient funds."},
		{status: stripe.PaymentIntentStatusRequiresAction, wantKind: fault.Declined, wantMsg: "Your card was declined."},
		{status: stripe.PaymentIntentStatusRequiresCapture, unknown: true},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			c, err := intentResult(&stripe.PaymentIntent{ID: "pi_1", Status: tc.status, LastPaymentError: tc.lastErr})
			var fe *fault.Error
			switch {
			case tc.unknown:
				if err == nil || errors.As(err, &fe) {
					t.Errorf("err = %v, want an unknown outcome", err)
				}
			case tc.wantKind == fault.Internal:
				if err != nil || c.ID != "pi_1" {
					t.Errorf("= %+v, %v", c, err)
				}
			default:
				if !errors.As(err, &fe) || fe.Kind != tc.wantKind || fe.Message != tc.wantMsg {
					t.Errorf("err = %v, want %q", err, tc.wantMsg)
				}
			}
		})
	}
}

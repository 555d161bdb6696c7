package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// lostAnswerProvider is the sandbox with the answer to the first charge
// under each idempotency key lost after the money moved, as when a
// provider times out or answers 5xx after charging.
type lostAnswerProvider struct {
	payments.Provider
	mu   sync.Mutex
	seen map[string]bool
}

func (p *lostAnswerProvider) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	p.mu.Lock()
	first := !p.seen[req.IdempotencyKey]
	p.seen[req.IdempotencyKey] = true
	p.mu.Unlock()
	c, err := p.Provider.Charge(ctx, req)
	if first && err == nil {
		return payments.Charge{}, errors.New("stripe: create payment intent: 504 Gateway Timeout")
	}
	return c, err
}

// TestUpReconcilesUnknownCharge: the buyer's charge goes through but its
// answer is lost (503), and the buyer never retries. Left alone, the
// reconciler replays it and the order completes; cancelled by the buyer,
// the cancellation replays it at once (long before the reconciler's turn)
// and the money goes back.
func TestUpReconcilesUnknownCharge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		reconcileAfter time.Duration
		cancel         bool
		wantOrder      string
		wantPayment    string
	}{
		{name: "order live", reconcileAfter: 200 * time.Millisecond, wantOrder: "complete", wantPayment: "succeeded"},
		{name: "order cancelled", reconcileAfter: time.Hour, cancel: true, wantOrder: "cancelled", wantPayment: "refunded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			provider := &lostAnswerProvider{Provider: payments.NewSandbox(), seen: map[string]bool{}}
			base, _ := startUpConfig(t, dir, nil, func(c *Config) {
				c.provider = provider
				c.reconcileEvery, c.reconcileAfter = 50*time.Millisecond, tc.reconcileAfter
			})
			paymentStatus := paymentStatusIn(t, dir)
			seller := signUp(t, base, "seller@example.com")
			buyer := signUp(t, base, "buyer@example.com")
			tk, o := sellAndReserve(t, seller, buyer, "Lost answer")
			if got := pay(t, buyer, o.ID, "tok_visa"); got != http.StatusServiceUnavailable {
				t.Fatalf("pay = %d, want 503", got)
			}
			if tc.cancel {
				if got := buyer.do("DELETE", "/api/orders/"+o.ID, nil, nil); got != http.StatusNoContent {
					t.Fatalf("cancel = %d, want 204", got)
				}
			}
			natsbustest.Eventually(t, 10*time.Second, "the payment to be "+tc.wantPayment, func() bool {
				return paymentStatus(o.ID) == tc.wantPayment
			})
			natsbustest.Eventually(t, 5*time.Second, "the order to be "+tc.wantOrder, func() bool {
				return orderStatus(buyer, o.ID) == tc.wantOrder
			})
			if tc.cancel {
				natsbustest.Eventually(t, 5*time.Second, "the ticket on sale again", func() bool { return listed(buyer, tk.ID) })
			}
			if got := buyer.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil); got != http.StatusBadRequest {
				t.Errorf("paying again = %d, want 400", got)
			}
			sb := provider.Provider.(*payments.Sandbox)
			if n := sb.Charges(); n != 1 {
				t.Errorf("charges = %d, want 1", n)
			}
		})
	}
}

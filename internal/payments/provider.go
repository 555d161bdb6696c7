package payments

import (
	"context"
	"errors"

	"github.com/ticketing/ticketing/internal/platform/money"
)

// Provider moves the money: Stripe in production, the sandbox for `up` and
// tests.
//
// Errors tell the service what happened to the money:
//   - a *fault.Error of kind Declined (the card was refused; its message is
//     the provider's reason) or Invalid (the request was refused, e.g. an
//     unknown token): nothing was charged;
//   - ErrAlreadyRefunded from Refund: the charge was refunded before;
//   - anything else: the outcome is unknown, and the same request with the
//     same idempotency key must be replayed to learn it.
type Provider interface {
	Charge(ctx context.Context, req ChargeRequest) (Charge, error)
	Refund(ctx context.Context, req RefundRequest) error
	Name() string
}

// ChargeRequest is one charge.
type ChargeRequest struct {
	Amount   money.Cents
	Currency string // ISO code, lower case: "usd"
	// Token is a card token (tok_...) or a payment method id (pm_...).
	Token string
	// IdempotencyKey makes a replayed request return the first result
	// instead of charging again.
	IdempotencyKey string
	// OrderID is recorded with the charge, for people reading the
	// provider's dashboard.
	OrderID string
}

// Charge is a successful charge.
type Charge struct {
	// ID is the provider's id of the charge (a Stripe PaymentIntent id).
	ID string
}

// RefundRequest gives back a whole charge.
type RefundRequest struct {
	// ChargeID is Charge.ID of the charge to refund.
	ChargeID       string
	IdempotencyKey string
}

// ErrAlreadyRefunded is a refund of a charge that was refunded before
// (under another idempotency key, or after the key expired).
var ErrAlreadyRefunded = errors.New("payments: charge already refunded")

// Currency is the one currency tickets are sold in.
const Currency = "usd"

package payments

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

var (
	// ErrOrderNotFound is an order the replica does not hold.
	ErrOrderNotFound = fault.New(fault.NotFound, "Order not found")
	// ErrNotOwner is an order of someone else.
	ErrNotOwner = fault.New(fault.Unauthorized, "Not authorized")
	// ErrOrderCancelled is an order that was cancelled (by its buyer or by
	// expiry): its ticket may already be someone else's.
	ErrOrderCancelled = fault.Coded(fault.Invalid, "order_cancelled", "Cannot pay for a cancelled order")
	// ErrOrderExpired is an order whose window has run out; its
	// cancellation is on its way, and charging now would only be refunded.
	ErrOrderExpired = fault.Coded(fault.Invalid, "order_expired", "Cannot pay for an expired order")
	// ErrAlreadyPaid is an order with a successful payment.
	ErrAlreadyPaid = fault.Coded(fault.Invalid, "order_paid", "Order has already been paid")
	// ErrInProgress is an order whose payment another request is making
	// right now.
	ErrInProgress = fault.Coded(fault.Invalid, "payment_in_progress", "Payment already in progress")
	// ErrProviderUnavailable is a charge whose outcome is unknown (the
	// provider failed or did not answer). The claim stays, and the next
	// attempt replays the same idempotency key, so retrying never charges
	// twice. A refund the provider did not answer is one too: the bus
	// retries it, under the same key, for as long as that lasts.
	ErrProviderUnavailable = fault.New(fault.Unavailable, "The payment could not be completed; please try again")
	// ErrPaymentNotFound is an unknown payment id (in a refund request).
	ErrPaymentNotFound = fault.New(fault.NotFound, "Payment not found")
)

// Order is the replica of an order: the few fields a payment needs.
type Order struct {
	ID        string
	UserID    string
	Price     money.Cents
	Status    events.OrderStatus
	Version   int64
	ExpiresAt time.Time // zero: unknown, never treated as expired
	// Attempts counts the payment claims made for the order so far.
	Attempts int64
	// Fee is the buyer's service fee orders took when the order was made:
	// the charge is Price + Fee (Total), one PaymentIntent.
	Fee money.Cents
	// SellerID is whose proceeds Price is, Payee as what
	// (events.PayeeSeller or events.PayeeOrganizer); "" for an order
	// from before order.created said.
	SellerID, Payee string
	// EventID is the event of the order's ticket, "" for a free-form
	// listing (or an order from before order.created said).
	EventID string
}

// Total is what the buyer is charged: the price and the service fee.
func (o Order) Total() money.Cents { return o.Price + o.Fee }

// CheckPayable says whether userID may pay for the order at now.
func (o Order) CheckPayable(userID string, now time.Time) error {
	switch {
	case o.UserID != userID:
		return ErrNotOwner
	case o.Status == events.StatusCancelled:
		return ErrOrderCancelled
	case o.Status == events.StatusComplete:
		return ErrAlreadyPaid
	case !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt):
		return ErrOrderExpired
	}
	return nil
}

// Status is the state of a payment.
type Status string

const (
	// StatusPending is a claim: a charge may be in flight.
	StatusPending Status = "pending"
	// StatusSucceeded is a charged payment.
	StatusSucceeded Status = "succeeded"
	// StatusRefunded is a charged payment given back.
	StatusRefunded Status = "refunded"
)

// Payment is one payment of one order.
type Payment struct {
	ID      string
	OrderID string
	Status  Status
	Amount  money.Cents
	// Token is the card token or payment method id the charge uses.
	Token string
	// IdempotencyKey is sent with the charge; a replay returns the first
	// result instead of charging again.
	IdempotencyKey string
	// StripeID is the provider's id of the charge, once it succeeded.
	StripeID string
	// ClaimedUntil is the lease of a pending claim: until then, another
	// request leaves it to the one charging.
	ClaimedUntil time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// newClaim is the pending payment the attempt-th claim of o makes.
//
// The idempotency key is derived from the order and the attempt number,
// not from the token: after a decline the buyer may retry with the same
// reusable payment method (pm_...), and Stripe would replay a key's cached
// decline for a day; and Stripe refuses a key reused with other
// parameters. A retry of the same attempt (a crash, a timeout) replays the
// stored key and request, so the provider charges once.
func newClaim(o Order, token string, attempt int64, now time.Time, lease time.Duration) Payment {
	return Payment{
		ID:             uuid.Must(uuid.NewV7()).String(),
		OrderID:        o.ID,
		Status:         StatusPending,
		Amount:         o.Total(),
		Token:          token,
		IdempotencyKey: fmt.Sprintf("charge-%s-%d", o.ID, attempt),
		ClaimedUntil:   now.Add(lease),
		CreatedAt:      now,
		UpdatedAt:      now,
	}
}

// Created is the event announcing a successful payment.
func (p Payment) Created() events.PaymentCreated {
	return events.PaymentCreated{ID: p.ID, OrderID: p.OrderID, StripeID: p.StripeID}
}

// Refunded is the event announcing that p was given back in full.
func (p Payment) Refunded() events.PaymentRefunded {
	return events.PaymentRefunded{ID: p.ID, OrderID: p.OrderID, Amount: int64(p.Amount)}
}

package orders

import (
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Status is where an order is in its life. The names are the contract's
// (events.OrderStatus), so they are stored and published as they are.
type Status = events.OrderStatus

const (
	StatusCreated         = events.StatusCreated
	StatusCancelled       = events.StatusCancelled
	StatusAwaitingPayment = events.StatusAwaitingPayment
	StatusComplete        = events.StatusComplete
)

var (
	// ErrOrderComplete is a cancellation of an order that has been paid for.
	ErrOrderComplete = fault.Coded(fault.Invalid, "order_complete", "Order is already complete and cannot be cancelled")
	// ErrAlreadyCancelled is a cancellation of a cancelled order. The use
	// cases treat it as done (idempotent), so callers never see it.
	ErrAlreadyCancelled = fault.Coded(fault.Invalid, "order_cancelled", "Order is already cancelled")
)

// Ticket is the orders service's replica of a ticket: only the fields an
// order shows. Its Version is always the one tickets published. On an
// Order, Price and Version are the snapshot taken at reservation (what the
// buyer is shown and charged, whatever the seller does later); Title is the
// replica's current one.
type Ticket struct {
	ID      string
	Title   string
	Price   money.Cents
	Version int64
	// Status (events.TicketOnSale, ...) and the seller (UserID) are the
	// replica's, read when reserving; an Order does not carry them.
	Status string
	UserID string
}

// Order is a buyer's hold on one ticket until ExpiresAt.
type Order struct {
	ID        string
	UserID    string
	Status    Status
	ExpiresAt time.Time
	// Version starts at 0 and grows by one on every change, so the
	// services replicating orders apply their events in order.
	Version   int64
	CreatedAt time.Time
	// PaymentID is the payment that completed the order, or whose refund
	// was requested because it came after the order was cancelled (or the
	// order was refused after it was paid); StripeID is its provider id.
	PaymentID string
	StripeID  string
	// CancelledBy says why a cancelled order was cancelled:
	// events.CancelledByBuyer, events.CancelledByExpiry, or the reason
	// tickets refused the reservation (events.RefusedPriceChange, ...).
	CancelledBy string
	Ticket      Ticket
}

// NewOrder reserves t for userID from now until now+window. Times are kept
// to the millisecond in UTC, the precision they are stored with, so the
// order a caller gets back equals the one read later.
func NewOrder(userID string, t Ticket, now time.Time, window time.Duration) Order {
	now = now.UTC().Truncate(time.Millisecond)
	return Order{
		ID:        uuid.Must(uuid.NewV7()).String(),
		UserID:    userID,
		Status:    StatusCreated,
		ExpiresAt: now.Add(window),
		Version:   0,
		CreatedAt: now,
		Ticket:    t,
	}
}

// Pending reports whether the order holds its ticket and still waits for
// payment; these are the orders MaxPending limits.
func (o *Order) Pending() bool {
	return o.Status == StatusCreated || o.Status == StatusAwaitingPayment
}

// Cancel releases the ticket, whether the buyer asked or the window ran
// out; by says which (events.CancelledByBuyer, ...). A paid order cannot be
// cancelled; a cancelled one is left as it is (ErrAlreadyCancelled), so a
// repeated request or event changes nothing.
func (o *Order) Cancel(by string) error {
	switch o.Status {
	case StatusComplete:
		return ErrOrderComplete
	case StatusCancelled:
		return ErrAlreadyCancelled
	}
	o.Status = StatusCancelled
	o.CancelledBy = by
	o.Version++
	return nil
}

// RefusalOutcome says what tickets' refusal of the reservation did to an
// order.
type RefusalOutcome int

const (
	// RefusalIgnored: the order was cancelled already; nothing changes.
	RefusalIgnored RefusalOutcome = iota + 1
	// RefusalCancelled: the unpaid order is now cancelled.
	RefusalCancelled
	// RefusalRefund: the order was paid in the moment before the refusal
	// arrived; it is now cancelled and its payment must be refunded.
	RefusalRefund
)

// Refuse applies tickets' refusal to hold the ticket for the order, for
// reason (events.RefusedPriceChange, ...): the buyer never had the ticket,
// so the order is cancelled with that reason, and a payment it already took
// is to be given back. A cancelled order stays as it is (the refusal came
// after the buyer or the expiry, or it is a redelivery).
func (o *Order) Refuse(reason string) RefusalOutcome {
	if o.Status == StatusCancelled {
		return RefusalIgnored
	}
	paid := o.Status == StatusComplete
	o.Status, o.CancelledBy = StatusCancelled, reason
	o.Version++
	if paid {
		return RefusalRefund
	}
	return RefusalCancelled
}

// Payment is what orders learns of a successful charge (payment.created).
type Payment struct {
	ID       string
	StripeID string
}

// PaymentOutcome says what a payment did to an order.
type PaymentOutcome int

const (
	// PaymentApplied: the order is now complete.
	PaymentApplied PaymentOutcome = iota + 1
	// PaymentSeen: this payment was handled before; nothing changes.
	PaymentSeen
	// PaymentRefund: the order was cancelled (the payment raced the expiry)
	// or is paid by another payment; the money must go back.
	PaymentRefund
)

// Pay records payment p. A pending order becomes complete; a cancelled one
// stays cancelled and the payment is to be refunded, so no buyer pays for a
// ticket they did not get. The same payment twice changes nothing.
func (o *Order) Pay(p Payment) PaymentOutcome {
	switch {
	case o.PaymentID == p.ID:
		return PaymentSeen
	case o.Pending():
		o.Status = StatusComplete
		o.PaymentID, o.StripeID = p.ID, p.StripeID
		o.Version++
		return PaymentApplied
	case o.Status == StatusCancelled && o.PaymentID == "":
		// Remember it so a redelivery does not ask for a second refund.
		o.PaymentID, o.StripeID = p.ID, p.StripeID
		o.Version++
		return PaymentRefund
	}
	return PaymentRefund // complete by another payment, or a second late one
}

// Completed is the event announcing that the order was paid: tickets marks
// its ticket sold.
func (o *Order) Completed() events.OrderCompleted {
	return events.OrderCompleted{ID: o.ID, Version: o.Version, UserID: o.UserID, Ticket: events.OrderTicket{ID: o.Ticket.ID}}
}

// RefundRequested is the event asking payments to give p's money back.
func (o *Order) RefundRequested(p Payment) events.OrderRefundRequested {
	return events.OrderRefundRequested{OrderID: o.ID, PaymentID: p.ID, StripeID: p.StripeID}
}

// Created is the event announcing a new order. It carries the snapshot:
// the price payments charges and the ticket version tickets checks.
func (o *Order) Created() events.OrderCreated {
	v := o.Ticket.Version
	return events.OrderCreated{
		ID:        o.ID,
		Version:   o.Version,
		Status:    o.Status,
		UserID:    o.UserID,
		ExpiresAt: o.ExpiresAt,
		Ticket:    events.OrderTicket{ID: o.Ticket.ID, Price: int64(o.Ticket.Price), Version: &v},
	}
}

// Cancelled is the event announcing that the order released its ticket.
func (o *Order) Cancelled() events.OrderCancelled {
	return events.OrderCancelled{ID: o.ID, Version: o.Version, Ticket: events.OrderTicket{ID: o.Ticket.ID}, CancelledBy: o.CancelledBy}
}

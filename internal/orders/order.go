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
	ErrOrderComplete = fault.New(fault.Invalid, "Order is already complete and cannot be cancelled")
	// ErrAlreadyCancelled is a cancellation of a cancelled order. The use
	// cases treat it as done (idempotent), so callers never see it.
	ErrAlreadyCancelled = fault.New(fault.Invalid, "Order is already cancelled")
)

// Ticket is the orders service's replica of a ticket: only the fields an
// order shows. Its Version is always the one tickets published.
type Ticket struct {
	ID      string
	Title   string
	Price   money.Cents
	Version int64
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
	Ticket    Ticket
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
// out. A paid order cannot be cancelled; a cancelled one is left as it is
// (ErrAlreadyCancelled), so a repeated request or event changes nothing.
func (o *Order) Cancel() error {
	switch o.Status {
	case StatusComplete:
		return ErrOrderComplete
	case StatusCancelled:
		return ErrAlreadyCancelled
	}
	o.Status = StatusCancelled
	o.Version++
	return nil
}

// Created is the event announcing a new order.
func (o *Order) Created() events.OrderCreated {
	return events.OrderCreated{
		ID:        o.ID,
		Version:   o.Version,
		Status:    o.Status,
		UserID:    o.UserID,
		ExpiresAt: o.ExpiresAt,
		Ticket:    events.OrderTicket{ID: o.Ticket.ID, Price: int64(o.Ticket.Price)},
	}
}

// Cancelled is the event announcing that the order released its ticket.
func (o *Order) Cancelled() events.OrderCancelled {
	return events.OrderCancelled{ID: o.ID, Version: o.Version, Ticket: events.OrderTicket{ID: o.Ticket.ID}}
}

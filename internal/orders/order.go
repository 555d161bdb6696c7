package orders

import (
	"fmt"
	"math"
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
	// replica's, read when reserving. An Order carries the replica's
	// current Status (to tell a paid order its event was cancelled), not
	// the seller.
	Status string
	UserID string
	// EventID is the event of an issued ticket, "" for a free-form
	// listing; OnSaleAt when orders may first take it (zero: at once).
	EventID  string
	OnSaleAt time.Time
	// EventStartsAt and EventEndsAt are its event's times (sale_events),
	// read when reserving; zero for a free-form listing or an event
	// orders has no times of.
	EventStartsAt, EventEndsAt time.Time
	// Resale is set while the ticket is a holder's resale listing
	// (ticket.updated's resale); ResaleCap is then its event's cap,
	// floor(faceValue × resaleCapPercent / 100), read when reserving
	// (sale_events), 0 while orders has no face value of the event.
	Resale    bool
	ResaleCap money.Cents
}

// resaleCap is floor(faceValue × percent / 100) in cents, 0 (no cap
// known) without a face value; a percent left out is DESIGN.md's
// default, 100.
func resaleCap(faceValue, percent int64) money.Cents {
	if faceValue <= 0 {
		return 0
	}
	if percent <= 0 {
		percent = 100
	}
	return money.Cents(faceValue * percent / 100)
}

// OverCap reports whether t is a resale listing priced above its event's
// resale cap in force, which no order may be created at (DESIGN.md 9.3).
func (t Ticket) OverCap() bool {
	return t.Resale && t.EventID != "" && t.ResaleCap > 0 && t.Price > t.ResaleCap
}

// EventCancelled reports whether the order's ticket is an issued one
// whose event was cancelled: orders learned it from event.cancelled
// (cancelled_events), or tickets withdrew the ticket (unsold) or voided it
// (paid).
func (o *Order) EventCancelled() bool {
	return o.Ticket.EventID != "" && (o.eventRecordedCancelled ||
		o.Ticket.Status == events.TicketWithdrawn || o.Ticket.Status == events.TicketVoid)
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
	// EndedAt is when the order was paid (complete) or cancelled; zero
	// while it waits for payment. A cancellation's time also starts the
	// buyer's re-reserve pause for the ticket.
	EndedAt time.Time
	Ticket  Ticket
	// ClientAddr is the per-address limit's key of the client that made
	// the order (httpapi.AddrKey), "" when unknown.
	ClientAddr string
	// Fee is the buyer's service fee, computed once from Ticket.Price
	// when the order is made (SetFee) and kept: the amount shown is the
	// amount charged, whatever the fee settings say later.
	Fee money.Cents
	// Primary: the order took an event's ticket from its organizer
	// (POST /api/orders {eventId}), so the proceeds are the organizer's;
	// known only while the order is made (order.created's payee).
	Primary bool
	// RefundRequestedAt is when orders asked payments to refund the
	// order's payment because its event was cancelled (zero: never);
	// RefundedAt and Refunded when payments reported it done, and how many
	// cents went back (payment.refunded).
	RefundRequestedAt, RefundedAt time.Time
	Refunded                      money.Cents
	// eventRecordedCancelled: the ticket's event is in cancelled_events
	// (read with the order).
	eventRecordedCancelled bool
}

// SetFee computes the order's service fee from its price by rule, once,
// when the order is made.
func (o *Order) SetFee(rule money.FeeRule) { o.Fee = rule.Fee(o.Ticket.Price) }

// Total is what the buyer pays: the price and the service fee.
func (o *Order) Total() money.Cents { return o.Ticket.Price + o.Fee }

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

// Holds is what a reservation is checked against besides its ticket: the
// unpaid orders of the buyer and of the client address, and the buyer's
// latest cancelled order for the ticket. The store reads it in the same
// statement as the ticket.
type Holds struct {
	// UserPending is the buyer's unpaid orders; UserFirstExpiry when the
	// first of them expires.
	UserPending     int
	UserFirstExpiry time.Time
	// AddrPending is the unpaid orders made from the client address (of
	// every account); AddrFirstExpiry when the first of them expires.
	AddrPending     int
	AddrFirstExpiry time.Time
	// LastCancelled is when the buyer's latest cancelled order for this
	// ticket was cancelled; zero when there is none.
	LastCancelled time.Time
}

// Limits are the bounds a reservation must stay within.
type Limits struct {
	// MaxPending is the unpaid orders one user may hold (MAX_PENDING_ORDERS).
	MaxPending int
	// MaxPerAddress is the unpaid orders one client address may hold,
	// across accounts (MAX_PENDING_ORDERS_PER_ADDRESS).
	MaxPerAddress int
	// Window is the expiration window, which is also how long a buyer
	// waits before reserving a ticket they released again.
	Window time.Duration
}

// Allow returns nil when a new order may be made at now, or the refusal,
// a TooMany fault with the time until trying again can succeed. A buyer at
// their own limit is refused first (even for a ticket that is reserved),
// then an address at its limit, then a buyer who released this very
// ticket less than a window ago: cancelling and reserving again would
// otherwise hold a ticket for ever without paying.
func (h Holds) Allow(now time.Time, l Limits) error {
	again := reserveAgainAt(h.LastCancelled, l.Window)
	switch {
	case h.UserPending >= l.MaxPending:
		return refuse(ErrTooManyPending, ErrTooManyPending.Message, h.UserFirstExpiry.Sub(now))
	case h.AddrPending >= l.MaxPerAddress:
		wait := h.AddrFirstExpiry.Sub(now)
		return refuse(ErrTooManyFromAddress, fmt.Sprintf(
			"Too many tickets are on hold from your network; try again in %s, when the first of those holds ends",
			inWords(wait)), wait)
	case now.Before(again):
		wait := again.Sub(now)
		return refuse(ErrReleasedRecently, fmt.Sprintf(
			"Your last order for this ticket was cancelled or expired; you can reserve it again in %s (at %s)",
			inWords(wait), again.UTC().Format("2006-01-02 15:04 UTC")), wait)
	}
	return nil
}

// reserveAgainAt is when a buyer whose order for a ticket ended at
// cancelled (by them or by expiry) may reserve that ticket again: one
// window later. It is the pause Allow enforces and the time an order's
// JSON tells the buyer; zero when cancelled is zero (no pause).
func reserveAgainAt(cancelled time.Time, window time.Duration) time.Time {
	if cancelled.IsZero() {
		return time.Time{}
	}
	return cancelled.Add(window)
}

// pausesReserve says whether an order cancelled for reason by starts the
// buyer's re-reserve pause: only what the buyer did (cancelled, or let
// expire) does; a reservation tickets refused (price_change, ...) was not
// the buyer's doing. The store's reads of Holds.LastCancelled filter on
// the same two reasons in SQL.
func pausesReserve(by string) bool {
	return by == events.CancelledByBuyer || by == events.CancelledByExpiry
}

// ReserveAgainAt is when the buyer may reserve this order's ticket again
// after it was cancelled by them or expired, given the expiration window;
// zero for any other order (or one cancelled before its time was kept).
// Whether the pause still holds is for the caller to compare with its
// clock.
func (o *Order) ReserveAgainAt(window time.Duration) time.Time {
	if o.Status != StatusCancelled || !pausesReserve(o.CancelledBy) {
		return time.Time{}
	}
	return reserveAgainAt(o.EndedAt, window)
}

// refusal is a sentinel fault with this attempt's message and Retry-After.
// errors.As finds the copy (with RetryAfter) first; errors.Is still
// matches the sentinel.
type refusal struct {
	fault    *fault.Error
	sentinel error
}

func (r *refusal) Error() string   { return r.fault.Message }
func (r *refusal) Unwrap() []error { return []error{r.fault, r.sentinel} }

// refuse returns sentinel with msg and a Retry-After of wait (at least a
// second: an expiry lands a moment after its time, and "0" would invite a
// retry loop).
func refuse(sentinel *fault.Error, msg string, wait time.Duration) error {
	e := *sentinel
	e.Message = msg
	e.RetryAfter = max(wait, time.Second)
	return &refusal{fault: &e, sentinel: sentinel}
}

// inWords is a wait as a person reads it: whole minutes, rounded up, or
// seconds under a minute.
func inWords(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(math.Ceil(d.Seconds())))
	case d <= time.Minute:
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
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
// the price and fee (payments charges their total) and the ticket version
// tickets checks, and whose proceeds the price is (the seller, and whether
// as the event's organizer).
func (o *Order) Created() events.OrderCreated {
	v, fee, total := o.Ticket.Version, int64(o.Fee), int64(o.Total())
	payee := events.PayeeSeller
	if o.Primary {
		payee = events.PayeeOrganizer
	}
	return events.OrderCreated{
		Fee:       &fee,
		Total:     &total,
		SellerID:  o.Ticket.UserID,
		Payee:     payee,
		EventID:   o.Ticket.EventID,
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

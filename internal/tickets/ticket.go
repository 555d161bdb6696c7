// Package tickets owns the tickets for sale: the source of truth for every
// ticket's title, price, seller and reservation. It serves /api/tickets,
// publishes ticket.created and ticket.updated through its outbox, and
// listens to order.created and order.cancelled to reserve and release
// tickets.
package tickets

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Name is the service's name: its migration set, its PostgreSQL schema and
// the prefix of its durable consumers (tickets-order-created, ...).
const Name = "tickets"

const (
	// MaxTitle is the longest title, in characters (runes).
	MaxTitle = 200
	// MaxPrice is the highest price: 1,000,000 dollars.
	MaxPrice money.Cents = 1_000_000_00
)

// Status is where a ticket is in its life; the names are the API's and
// the events' (DESIGN.md section 3).
type Status string

const (
	StatusOnSale    Status = "on_sale"
	StatusReserved  Status = "reserved"
	StatusSold      Status = "sold"
	StatusWithdrawn Status = "withdrawn"
	// StatusHeld is an issued ticket that was paid for: HolderID holds it
	// (and its code, CodeVersion).
	StatusHeld Status = "held"
	// StatusVoid is an issued ticket that was paid for and whose event was
	// then cancelled: its code is void.
	StatusVoid Status = "void"
)

// Ticket is one ticket for sale. OrderID is set while an order holds it,
// and stays the paying order's once it is sold.
type Ticket struct {
	ID      string
	Title   string
	Price   money.Cents
	UserID  string
	Version int64
	OrderID string
	Status  Status
	// SoldAt is when the sale was learned (order.completed); zero unless
	// sold.
	SoldAt time.Time
	// EditedVersion is the version the seller's last change of title or
	// price produced (0: as listed). An order that reserved an older
	// version saw other fields than the ticket has now and is refused.
	EditedVersion int64
	// CreatedAt orders the list, newest first.
	CreatedAt time.Time
	// EventID is the organizer's event an issued ticket belongs to
	// (DESIGN.md section 9.2); "" on a free-form listing. UserID is then
	// the organizer.
	EventID string
	// OnSaleAt is when orders may first take an issued ticket.
	OnSaleAt time.Time
	// HolderID is the buyer who paid for an issued ticket; "" until then.
	HolderID string
	// CodeVersion is the version of the holder's code: 0 before the ticket
	// is held, 1 once it is, and one more on every change of holder or
	// void, so that an older code is dead.
	CodeVersion int64
	// WithdrawnReason says why a holder's resale listing left sale without
	// them (ReasonOverResaleCap), and WithdrawnCap the cap it was above;
	// "" and 0 otherwise. The holder's next listing clears them.
	WithdrawnReason string
	WithdrawnCap    money.Cents
	// noted are the reasons of the history entries (history.go) the
	// changes being made owe the ticket's history, space-separated, oldest
	// first; the write records them in its transaction and clears them.
	noted string
}

// Fields are what a seller chooses about a ticket.
type Fields struct {
	Title string
	Price money.Cents
}

// Validate trims the title and reports every field at fault at once, as
// fault.Problems.
func (f *Fields) Validate() error {
	var p fault.Problems
	f.check(&p, true)
	return p.Err()
}

// check trims the title and adds a problem for each field at fault. The
// HTTP edge passes checkPrice=false when it has already reported a price it
// could not read (missing, bad notation): a second, "must be positive",
// message about the same field would only confuse.
func (f *Fields) check(p *fault.Problems, checkPrice bool) {
	f.Title = strings.TrimSpace(f.Title)
	switch {
	case f.Title == "":
		p.Add("title", "Title is required")
	case !utf8.ValidString(f.Title):
		p.Add("title", "Title must be valid text")
	case utf8.RuneCountInString(f.Title) > MaxTitle:
		p.Add("title", "Title must be at most 200 characters")
	case strings.ContainsFunc(f.Title, unicode.IsControl):
		// Tabs, newlines, NUL, escape sequences: a title is one line of text.
		p.Add("title", "Title must not contain control characters")
	}
	if !checkPrice {
		return
	}
	switch {
	case f.Price <= 0:
		p.Add("price", "Price must be greater than 0")
	case f.Price > MaxPrice:
		p.Add("price", "Price must be at most 1000000")
	}
}

var (
	// ErrNotOwner is an edit by someone other than the seller.
	ErrNotOwner = fault.New(fault.Unauthorized, "Not authorized")
	// ErrReserved is an edit of a ticket an order holds.
	ErrReserved = fault.Coded(fault.Invalid, "ticket_reserved_locked", "Cannot edit a reserved ticket")
	// ErrWithdrawReserved is a withdrawal of a ticket an order holds.
	ErrWithdrawReserved = fault.Coded(fault.Invalid, "ticket_reserved_locked", "Cannot withdraw a reserved ticket")
	// ErrSold is a change of a ticket that was sold.
	ErrSold = fault.Coded(fault.Invalid, "ticket_sold", "The ticket was sold and can no longer be changed")
	// ErrWithdrawn is an edit of a ticket its seller withdrew.
	ErrWithdrawn = fault.Coded(fault.Invalid, "ticket_withdrawn", "The ticket was withdrawn from sale")
	// ErrIssued is an edit or withdrawal of a ticket the platform issued
	// for an event: its price and title follow the event.
	ErrIssued = fault.Coded(fault.Invalid, "ticket_issued", "An event's ticket changes with its event, not on its own")
	// errNotHeldBy is an order.completed for an order that does not hold
	// the ticket (yet): its order.created, on another consumer, is on its
	// way.
	errNotHeldBy = errors.New("ticket is not held by the paid order")
	// errHeldByOtherOrder is an order.created for a ticket another order
	// still holds. It is transient on purpose: orders lets a second order
	// exist only once the first is cancelled, so that cancellation is on its
	// way and the event will apply when it comes back.
	errHeldByOtherOrder = errors.New("ticket is held by another order")
)

// refusal is an order.created the ticket cannot take, for good: the answer
// is ticket.reservation_refused with reason, not a retry.
type refusal struct{ reason string }

func (r refusal) Error() string { return "reservation refused: " + r.reason }

// Edit applies the seller's new fields. Only the seller may edit, and only
// while no order holds the ticket.
func (t *Ticket) Edit(userID string, f Fields) error {
	if t.UserID != userID {
		return ErrNotOwner
	}
	switch {
	case t.EventID != "":
		return ErrIssued
	case t.Status == StatusSold:
		return ErrSold
	case t.Status == StatusWithdrawn:
		return ErrWithdrawn
	case t.OrderID != "":
		return ErrReserved
	}
	if t.Title != f.Title || t.Price != f.Price {
		// The write lands at version+1 (see Service.change); an edit that
		// changes nothing does not invalidate reservations of what is still
		// the same offer.
		t.EditedVersion = t.Version + 1
	}
	t.Title, t.Price = f.Title, f.Price
	return nil
}

// Reprice gives an unsold issued ticket (on sale, no order, no holder) its
// event's new face value and on-sale time, and reports whether anything
// changed. A changed price invalidates reservations of older versions, as
// a seller's edit does (EditedVersion).
func (t *Ticket) Reprice(price money.Cents, onSaleAt time.Time) bool {
	if t.EventID == "" || t.Status != StatusOnSale || t.OrderID != "" || t.HolderID != "" {
		return false
	}
	if t.Price == price && t.OnSaleAt.Equal(onSaleAt) {
		return false
	}
	t.EditedVersion = t.Version + 1
	t.Price, t.OnSaleAt = price, onSaleAt
	return true
}

// Reservation is what an order.created asks of a ticket.
type Reservation struct {
	OrderID string
	// Version is the ticket version the order reserved; nil for an event
	// from before order.created carried it (then Price alone is checked).
	Version *int64
	// Price is what the order will charge, the price of that version.
	Price money.Cents
}

// Reserve lets the order hold the ticket. It reports whether anything
// changed: false when that order already holds it (an event applied twice).
//
// The order must have reserved what the ticket still is: a seller's edit
// after the version the order reserved (or a price that differs from the
// order's) is a refusal, whoever holds the ticket now. Only then is a
// ticket held by another order errHeldByOtherOrder (its cancellation is on
// its way). Reservations and releases also move the version on, so a
// version older than the current one is fine as long as no edit came
// after it.
func (t *Ticket) Reserve(r Reservation) (bool, error) {
	if t.OrderID == r.OrderID {
		return false, nil
	}
	switch t.Status {
	case StatusWithdrawn:
		if t.EventID != "" {
			// An issued ticket leaves sale only with its event.
			return false, refusal{events.CancelledByEventCancelled}
		}
		return false, refusal{events.RefusedNotAvailable}
	case StatusSold, StatusHeld, StatusVoid:
		// No order can have it (until a holder lists it for resale).
		return false, refusal{events.RefusedNotAvailable}
	}
	if (r.Version != nil && t.EditedVersion > *r.Version) || t.Price != r.Price {
		if t.Price != r.Price {
			return false, refusal{events.RefusedPriceChange}
		}
		return false, refusal{events.RefusedTicketChanged}
	}
	if t.OrderID != "" {
		return false, errHeldByOtherOrder
	}
	t.OrderID, t.Status = r.OrderID, StatusReserved
	return true, nil
}

// Release puts the ticket back on sale if orderID still holds it, and
// reports whether anything changed.
func (t *Ticket) Release(orderID string) bool {
	if t.OrderID != orderID || t.Status != StatusReserved {
		// A sold ticket is never released: a paid order is not cancelled
		// (a refusal after payment is refunded without order.cancelled).
		return false
	}
	t.OrderID, t.Status = "", StatusOnSale
	return true
}

// Sell records that orderID, which holds the ticket, was paid
// (order.completed) by buyerID, at now. A free-form listing is sold; an
// issued ticket is held by the buyer, with code version 1 (or void, if
// its event was cancelled while the order held it: withdrawn with the
// order still on it). It reports whether anything changed: false when
// that order's sale is already recorded. An order that does not hold the
// ticket is errNotHeldBy: its order.created has not been applied yet.
func (t *Ticket) Sell(orderID, buyerID string, now time.Time) (bool, error) {
	if t.OrderID != orderID {
		return false, errNotHeldBy
	}
	switch t.Status {
	case StatusSold, StatusHeld, StatusVoid:
		return false, nil
	}
	t.SoldAt = now.UTC().Truncate(time.Millisecond)
	if t.EventID == "" {
		t.Status = StatusSold
		return true, nil
	}
	cancelled := t.Status == StatusWithdrawn
	why := ReasonIssued
	if t.HolderID != "" {
		why = ReasonResold
	}
	t.Status, t.HolderID = StatusHeld, buyerID
	t.WithdrawnReason, t.WithdrawnCap = "", 0
	t.CodeVersion++
	t.note(why)
	if cancelled {
		t.Void()
	}
	return true, nil
}

// Void makes a held ticket's code void because its event was cancelled
// (status void, code version moved on). It reports whether anything
// changed.
func (t *Ticket) Void() bool {
	if t.Status != StatusHeld {
		return false
	}
	t.Status = StatusVoid
	t.CodeVersion++
	t.note(ReasonVoided)
	return true
}

// TakeOffSale is what an event's cancellation does to one of its
// tickets: unsold stock is withdrawn (a reserved ticket keeps its order,
// so orders cancels that order and a payment already made still finds
// it), a held ticket, or one listed for resale that no order holds, is
// void. Every holder's code dies with a new code version (DESIGN.md 9.2:
// every void moves it on). It reports whether anything changed.
func (t *Ticket) TakeOffSale() bool {
	switch t.Status {
	case StatusOnSale, StatusReserved:
		if t.HolderID != "" {
			// A holder's resale listing: the holder's code dies with the
			// event, as a held ticket's does.
			t.CodeVersion++
			t.note(ReasonVoided)
		}
		if t.HolderID != "" && t.OrderID == "" {
			t.Status = StatusVoid
			return true
		}
		// Unsold stock, or a listing an order holds: withdrawn, so that
		// orders cancels that order (or refunds it if paid: Sell then
		// gives the buyer the void ticket).
		t.Status = StatusWithdrawn
		return true
	case StatusHeld:
		return t.Void()
	}
	return false
}

// Withdraw takes the ticket off sale for good, by its seller. A reserved
// or sold ticket cannot be withdrawn; withdrawing it again changes nothing
// (false).
func (t *Ticket) Withdraw(userID string) (bool, error) {
	if t.UserID != userID {
		return false, ErrNotOwner
	}
	switch {
	case t.EventID != "":
		return false, ErrIssued
	case t.Status == StatusWithdrawn:
		return false, nil
	case t.Status == StatusSold:
		return false, ErrSold
	case t.OrderID != "":
		return false, ErrWithdrawReserved
	}
	t.Status = StatusWithdrawn
	return true, nil
}

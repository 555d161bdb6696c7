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

// Ticket is one ticket for sale. OrderID is set while an order holds it.
type Ticket struct {
	ID      string
	Title   string
	Price   money.Cents
	UserID  string
	Version int64
	OrderID string
	// CreatedAt orders the list, newest first.
	CreatedAt time.Time
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
	// errHeldByOtherOrder is an order.created for a ticket another order
	// still holds. It is transient on purpose: orders lets a second order
	// exist only once the first is cancelled, so that cancellation is on its
	// way and the event will apply when it comes back.
	errHeldByOtherOrder = errors.New("ticket is held by another order")
)

// Edit applies the seller's new fields. Only the seller may edit, and only
// while no order holds the ticket.
func (t *Ticket) Edit(userID string, f Fields) error {
	if t.UserID != userID {
		return ErrNotOwner
	}
	if t.OrderID != "" {
		return ErrReserved
	}
	t.Title, t.Price = f.Title, f.Price
	return nil
}

// Reserve lets orderID hold the ticket. It reports whether anything changed:
// false when that order already holds it (an event applied twice).
func (t *Ticket) Reserve(orderID string) (bool, error) {
	switch t.OrderID {
	case "":
		t.OrderID = orderID
		return true, nil
	case orderID:
		return false, nil
	}
	return false, errHeldByOtherOrder
}

// Release puts the ticket back on sale if orderID still holds it, and
// reports whether anything changed.
func (t *Ticket) Release(orderID string) bool {
	if t.OrderID != orderID {
		return false
	}
	t.OrderID = ""
	return true
}

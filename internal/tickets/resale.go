package tickets

import (
	"context"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Resale of an issued ticket by its holder (DESIGN.md 9.3): the holder
// lists it at a price within the event's cap, it goes on sale like any
// listing (on_sale, through ticket.updated, so orders can order it by id),
// and the order that pays for it makes the buyer the holder with a new
// code (Ticket.Sell), so the seller's code is void at the door.

var (
	// ErrListingReserved is a change or withdrawal of a resale listing an
	// order holds: the buyer may be paying.
	ErrListingReserved = fault.Coded(fault.Invalid, "ticket_reserved_locked", "Cannot change a listing an order holds")
	// ErrCheckedIn is a listing of a ticket that was admitted at its door:
	// its buyer could never get in.
	ErrCheckedIn = fault.Coded(fault.Conflict, "ticket_checked_in", "This ticket was already used at the door and cannot be resold")
	// ErrEventNotScheduled is a listing of a ticket whose event was
	// cancelled or has ended.
	ErrEventNotScheduled = fault.Coded(fault.Conflict, "event_not_scheduled", "The event was cancelled or has ended: its tickets cannot be resold")
)

// errOverCap is a listing price above the event's resale cap; the
// message names the cap so the seller knows what they may ask.
func errOverCap(c money.Cents) error {
	return &fault.Error{Kind: fault.Invalid, Code: "over_resale_cap", Field: "price",
		Message: fmt.Sprintf("The price must be at most %s, the event's resale cap", c)}
}

// Listed reports whether t is an issued ticket its holder offers for
// resale: on sale, or reserved by the order of a buyer.
func (t Ticket) Listed() bool {
	return t.EventID != "" && t.HolderID != "" && (t.Status == StatusOnSale || t.Status == StatusReserved)
}

// Seller is who sells t: its holder while they list it for resale, its
// seller (the organizer, for an event's stock) otherwise. ticket.updated
// names them, so orders refuses a seller their own listing.
func (t Ticket) Seller() string {
	if t.Listed() {
		return t.HolderID
	}
	return t.UserID
}

// List offers the holder's ticket for resale at price, which must not
// exceed capPrice; listing it again changes the price. Anyone but the
// holder gets ErrNotHolder (the ticket is not theirs to know of). It
// reports whether anything changed.
func (t *Ticket) List(userID string, price, capPrice money.Cents) (bool, error) {
	if userID == "" || t.EventID == "" || t.HolderID != userID {
		return false, ErrNotHolder
	}
	switch t.Status {
	case StatusVoid:
		return false, ErrTicketVoid
	case StatusReserved:
		return false, ErrListingReserved
	case StatusHeld, StatusOnSale:
	default:
		return false, ErrNotHolder
	}
	if price > capPrice {
		return false, errOverCap(capPrice)
	}
	if t.Status == StatusOnSale && t.Price == price {
		return false, nil
	}
	// The write lands at version+1 (Service.change): an order that
	// reserved an earlier version saw another offer and is refused.
	t.EditedVersion = t.Version + 1
	// The paying order of the last sale no longer holds the ticket: the
	// next buyer's order will (Ticket.Reserve).
	t.Status, t.Price, t.OrderID = StatusOnSale, price, ""
	t.WithdrawnReason, t.WithdrawnCap = "", 0
	return true, nil
}

// Unlist takes the holder's listing off sale: the ticket is held again.
// A ticket not listed changes nothing (false); one an order holds is
// ErrListingReserved.
func (t *Ticket) Unlist(userID string) (bool, error) {
	if userID == "" || t.EventID == "" || t.HolderID != userID {
		return false, ErrNotHolder
	}
	switch t.Status {
	case StatusReserved:
		return false, ErrListingReserved
	case StatusOnSale:
		t.Status = StatusHeld
		t.WithdrawnReason, t.WithdrawnCap = "", 0
		return true, nil
	}
	return false, nil
}

// ReasonOverResaleCap is a resale listing's WithdrawnReason when it left
// sale because the organizer lowered the event's resale cap (or its face
// value) below the listing's price.
const ReasonOverResaleCap = "over_resale_cap"

// WithdrawOverCap takes a resale listing priced above capPrice off sale:
// the holder holds it again, with the same code, and WithdrawnReason
// says why (DESIGN.md 9.3: "a listing above a lowered cap leaves sale
// with a reason the seller sees"). A listing an order holds is left to
// that order: it was within the cap in force when it was made (orders
// checks the cap when it creates an order), and if it is cancelled
// Release applies the cap then. It reports whether anything changed.
func (t *Ticket) WithdrawOverCap(capPrice money.Cents) bool {
	if !t.Listed() || t.Status != StatusOnSale || t.OrderID != "" || t.Price <= capPrice {
		return false
	}
	t.Status = StatusHeld
	t.WithdrawnReason, t.WithdrawnCap = ReasonOverResaleCap, capPrice
	return true
}

// ListForResale lists the holder's ticket id at price (DESIGN.md 9.3):
// ErrNotFound for anyone else, ErrTicketVoid, ErrListingReserved,
// ErrCheckedIn, ErrEventNotScheduled, ErrTooManyListings, over_resale_cap,
// or ErrChanged after a lost race.
func (s *Service) ListForResale(ctx context.Context, userID, id string, price money.Cents) (Ticket, error) {
	var p fault.Problems
	switch {
	case price <= 0:
		p.Add("price", "Price must be greater than 0")
	case price > MaxPrice:
		p.Add("price", "Price must be at most 1000000")
	}
	if err := p.Err(); err != nil {
		return Ticket{}, err
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return Ticket{}, err
	}
	if userID == "" || t.HolderID != userID || t.EventID == "" {
		return Ticket{}, ErrNotHolder
	}
	return s.changeAsked(ctx, id, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		if t.HolderID != userID || t.EventID == "" {
			return false, ErrNotHolder
		}
		// The cap is read after the ticket's lock: an organizer's lower
		// cap either committed before (and is checked here) or comes
		// after, and its pass over the event's tickets (RepriceStock)
		// waits for this lock and withdraws the listing if it is above.
		ev, err := s.store.DoorEventTx(ctx, tx, t.EventID)
		if err != nil {
			return false, fmt.Errorf("list ticket %s: %w", id, err)
		}
		if ev.Status != events.EventStatusScheduled {
			return false, ErrEventNotScheduled
		}
		if t.Status == StatusHeld {
			if err := s.mayList(ctx, tx, t.ID, userID); err != nil {
				return false, err
			}
		}
		return t.List(userID, price, ev.ResaleCap())
	})
}

// mayList checks, in tx, that the holder may put ticketID on sale: it was
// not used at the door (ErrCheckedIn), has no pending transfer
// (ErrListingTransferPending), and the holder's live listings,
// free-form and resale, are fewer than maxListings (ErrTooManyListings,
// counted under the seller's lock as Create does).
func (s *Service) mayList(ctx context.Context, tx *sqldb.Tx, ticketID, userID string) error {
	_, used, err := s.store.CheckedInAt(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if used {
		return ErrCheckedIn
	}
	pending, err := s.store.HasPendingTransfer(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if pending {
		return ErrListingTransferPending
	}
	return s.roomForListing(ctx, tx, userID)
}

// Unlist withdraws the holder's resale listing of ticket id: the ticket
// is held again. ErrNotFound for anyone else, ErrListingReserved while an
// order holds it; a ticket not listed succeeds and publishes nothing.
func (s *Service) Unlist(ctx context.Context, userID, id string) error {
	if !ids.Valid(id) {
		return ErrNotFound
	}
	_, err := s.changeAsked(ctx, id, func(_ *sqldb.Tx, t *Ticket) (bool, error) {
		return t.Unlist(userID)
	})
	return err
}

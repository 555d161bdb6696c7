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
		return true, nil
	}
	return false, nil
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
	// The cap is read before the ticket's transaction: an organizer who
	// lowers it meanwhile is a later slice's re-check (DESIGN.md 9.3).
	ev, err := s.store.DoorEvent(ctx, t.EventID)
	if err != nil {
		return Ticket{}, fmt.Errorf("list ticket %s: %w", id, err)
	}
	if ev.Status != events.EventStatusScheduled {
		return Ticket{}, ErrEventNotScheduled
	}
	return s.changeAsked(ctx, id, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		if t.HolderID == userID && t.Status == StatusHeld {
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

package events

import "time"

const (
	SubjectTicketCreated            Subject = "ticket.created"
	SubjectTicketUpdated            Subject = "ticket.updated"
	SubjectTicketReservationRefused Subject = "ticket.reservation_refused"
)

// TicketCreated is published by tickets when a ticket is listed (version 0).
type TicketCreated struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Price   int64  `json:"price"` // cents
	UserID  string `json:"userId"`
	// Status is TicketOnSale for a new ticket; empty in events from before
	// the field existed (then on sale too).
	Status string `json:"status,omitempty"`
	// EventID is set on a ticket the platform issued for an organizer's
	// event (DESIGN.md section 9.2); empty on a free-form listing.
	EventID string `json:"eventId,omitempty"`
	// OnSaleAt is when an issued ticket may first be ordered; zero on a
	// free-form listing (on sale at once).
	OnSaleAt time.Time `json:"onSaleAt,omitzero"`
}

// The statuses of a ticket (DESIGN.md section 3), in its JSON and events.
const (
	TicketOnSale    = "on_sale"
	TicketReserved  = "reserved"
	TicketSold      = "sold"
	TicketWithdrawn = "withdrawn"
	// TicketHeld: an issued ticket that was paid for; its buyer is the
	// holder and has its code (DESIGN.md section 9.2).
	TicketHeld = "held"
	// TicketVoid: an issued ticket whose event was cancelled after it was
	// paid for; its code is void.
	TicketVoid = "void"
)

// TicketUpdated is published by tickets on every change after creation:
// an edit by the seller, a reservation (OrderID set), its release, the sale
// (Status sold) or the seller's withdrawal (Status withdrawn).
type TicketUpdated struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Price   int64  `json:"price"` // cents
	UserID  string `json:"userId"`
	OrderID string `json:"orderId,omitempty"`
	// Status is the ticket's status at Version; empty in events from
	// before the field existed (then reserved when OrderID is set, on sale
	// otherwise).
	Status string `json:"status,omitempty"`
	// EventID is set on a ticket the platform issued for an organizer's
	// event; the events part counts tickets left from it.
	EventID string `json:"eventId,omitempty"`
	// OnSaleAt is when an issued ticket may first be ordered; zero on a
	// free-form listing.
	OnSaleAt time.Time `json:"onSaleAt,omitzero"`
	// Resale is set while an issued ticket is its holder's resale listing
	// (DESIGN.md 9.3; UserID is then the holder, its seller): on sale or
	// reserved, but not its event's unsold stock.
	Resale bool `json:"resale,omitempty"`
}

func (TicketCreated) Subject() Subject { return SubjectTicketCreated }
func (TicketUpdated) Subject() Subject { return SubjectTicketUpdated }

// TicketReservationRefused is tickets' answer to an order.created it cannot
// apply: the seller changed the ticket after the version the order
// reserved, or the ticket is not available. orders cancels the order with
// Reason as its cancelledBy (or, if it was paid meanwhile, refunds it).
type TicketReservationRefused struct {
	TicketID string `json:"ticketId"`
	OrderID  string `json:"orderId"`
	Reason   string `json:"reason"`
}

func (TicketReservationRefused) Subject() Subject { return SubjectTicketReservationRefused }

// The reasons of a ticket.reservation_refused.
const (
	// RefusedPriceChange: the seller changed the price after the version
	// the order reserved.
	RefusedPriceChange = "price_change"
	// RefusedTicketChanged: the seller changed the ticket (its title) after
	// the version the order reserved, though not its price.
	RefusedTicketChanged = "ticket_changed"
	// RefusedNotAvailable: the ticket cannot be reserved at all (tickets
	// does not know it).
	RefusedNotAvailable = "not_available"
)

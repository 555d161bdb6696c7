package events

const (
	SubjectTicketCreated Subject = "ticket.created"
	SubjectTicketUpdated Subject = "ticket.updated"
)

// TicketCreated is published by tickets when a ticket is listed (version 0).
type TicketCreated struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Price   int64  `json:"price"` // cents
	UserID  string `json:"userId"`
}

// TicketUpdated is published by tickets on every change after creation:
// an edit by the seller, a reservation (OrderID set) or its release.
type TicketUpdated struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Price   int64  `json:"price"` // cents
	UserID  string `json:"userId"`
	OrderID string `json:"orderId,omitempty"`
}

func (TicketCreated) Subject() Subject { return SubjectTicketCreated }
func (TicketUpdated) Subject() Subject { return SubjectTicketUpdated }

package orders

import (
	"net/http"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Routes registers the /api/orders routes on mux. Every one needs a
// signed-in caller (httpapi.CurrentUser must wrap the mux).
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/orders", httpapi.RequireUser(s.handleOrderList))
	mux.HandleFunc("POST /api/orders", httpapi.RequireUser(s.handleOrderCreate))
	mux.HandleFunc("GET /api/orders/{id}", httpapi.RequireUser(s.handleOrderGet))
	mux.HandleFunc("DELETE /api/orders/{id}", httpapi.RequireUser(s.handleOrderCancel))
}

type ticketJSON struct {
	ID      string      `json:"id"`
	Title   string      `json:"title"`
	Price   money.Cents `json:"price"`
	Version int64       `json:"version"`
	// EventID is the event of an issued ticket.
	EventID string `json:"eventId,omitempty"`
}

// refundPending is the notice of a paid order whose event was cancelled
// until payments reports its refund done (DESIGN.md section 9.4);
// refundedNotice then, with the amount given back.
const (
	refundPending  = "Event cancelled — refund pending"
	refundedNotice = "Event cancelled — refunded $"
)

// The order's refund, in its JSON's refund field.
const (
	refundStatePending  = "pending"
	refundStateRefunded = "refunded"
)

type orderJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expiresAt"` // RFC 3339, UTC
	Version   int64     `json:"version"`
	// CancelledBy is why a cancelled order was cancelled.
	CancelledBy string `json:"cancelledBy,omitempty"`
	// PaymentID is the payment that completed the order or, on a cancelled
	// order, the payment being refunded.
	PaymentID string `json:"paymentId,omitempty"`
	// PaidAt is when a complete order was paid, CancelledAt when a
	// cancelled one was cancelled (RFC 3339, UTC); each absent otherwise,
	// and for orders that ended before the time was kept.
	PaidAt      time.Time `json:"paidAt,omitzero"`
	CancelledAt time.Time `json:"cancelledAt,omitzero"`
	// ReserveAgainAt, on an order the buyer cancelled or let expire, is
	// when they may reserve its ticket again (RFC 3339, UTC): the
	// re-reserve pause Reserve enforces, so a page can say when rather
	// than offer a reservation bound to be refused. It stays after the
	// time has passed; the reader compares it with the clock.
	ReserveAgainAt time.Time `json:"reserveAgainAt,omitzero"`
	// EventCancelled says the ticket's event was cancelled; on a paid
	// order Notice then says the refund is pending.
	EventCancelled bool   `json:"eventCancelled,omitempty"`
	Notice         string `json:"notice,omitempty"`
	// Refund is "pending" from when the order's refund was asked for
	// (its event cancelled, or a payment that reached it cancelled) until
	// payments reports it done, then
	// "refunded", with RefundedAt and Refunded (the amount given back,
	// dollars as total); absent on an order nothing is refunded of.
	Refund     string      `json:"refund,omitempty"`
	RefundedAt time.Time   `json:"refundedAt,omitzero"`
	Refunded   money.Cents `json:"refunded,omitzero"`
	// Ticket's price and version are the order's snapshot.
	Ticket ticketJSON `json:"ticket"`
	// Fee is the service fee taken when the order was made, Total the
	// price plus the fee: what the buyer is charged (dollars, as price).
	Fee   money.Cents `json:"fee"`
	Total money.Cents `json:"total"`
}

// toJSON is o as the API shows it; window is the expiration window, which
// also sets the re-reserve pause.
func toJSON(o Order, window time.Duration) orderJSON {
	var paid, cancelled time.Time
	switch o.Status {
	case StatusComplete:
		paid = o.EndedAt
	case StatusCancelled:
		cancelled = o.EndedAt
	}
	var notice, refund string
	switch {
	case !o.RefundedAt.IsZero():
		refund = refundStateRefunded
	case !o.RefundRequestedAt.IsZero(), o.EventCancelled() && o.Status == StatusComplete,
		o.Status == StatusCancelled && o.PaymentID != "": // a late payment, given back
		refund = refundStatePending
	}
	if o.EventCancelled() && refund != "" {
		notice = refundPending
		if refund == refundStateRefunded {
			notice = refundedNotice + o.Refunded.String()
		}
	}
	return orderJSON{
		Refund:         refund,
		RefundedAt:     o.RefundedAt,
		Refunded:       o.Refunded,
		EventCancelled: o.EventCancelled(),
		Notice:         notice,
		PaidAt:         paid,
		CancelledAt:    cancelled,
		ReserveAgainAt: o.ReserveAgainAt(window).UTC(),
		ID:             o.ID,
		UserID:         o.UserID,
		Status:         string(o.Status),
		ExpiresAt:      o.ExpiresAt.UTC(),
		Version:        o.Version,
		CancelledBy:    o.CancelledBy,
		PaymentID:      o.PaymentID,
		Fee:            o.Fee,
		Total:          o.Total(),
		Ticket: ticketJSON{
			ID: o.Ticket.ID, Title: o.Ticket.Title, Price: o.Ticket.Price, Version: o.Ticket.Version,
			EventID: o.Ticket.EventID,
		},
	}
}

// orderCreateRequest names either the ticket to reserve or the event of
// which any one free ticket is to be reserved.
type orderCreateRequest struct {
	TicketID string `json:"ticketId"`
	EventID  string `json:"eventId"`
	// Admission is the waiting room's admission, for an event with a
	// queue (queue.go).
	Admission string `json:"admission"`
}

func (s *Service) handleOrderList(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	list, err := s.Orders(r.Context(), u.ID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out := make([]orderJSON, len(list))
	for i, o := range list {
		out[i] = toJSON(o, s.cfg.Window)
	}
	httpapi.Respond(w, http.StatusOK, out)
}

func (s *Service) handleOrderCreate(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	var req orderCreateRequest
	if err := httpapi.Decode(w, r, &req); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var p fault.Problems
	ticketID, eventID := strings.TrimSpace(req.TicketID), strings.TrimSpace(req.EventID)
	switch {
	case ticketID == "" && eventID == "":
		p.Add("ticketId", "Ticket id is required")
	case ticketID != "" && eventID != "":
		p.Add("eventId", "Give a ticket id or an event id, not both")
	}
	if err := p.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	addr := httpapi.ClientAddr(r, s.cfg.TrustedProxies)
	var (
		o   Order
		err error
	)
	if eventID != "" {
		if err := s.CheckAdmission(r.Context(), u.ID, eventID, req.Admission); err != nil {
			queueRequired(w, eventID, err)
			httpapi.Error(w, r, err)
			return
		}
		o, err = s.ReserveFromEvent(r.Context(), u.ID, req.EventID, addr)
	} else {
		o, err = s.Reserve(r.Context(), u.ID, req.TicketID, addr)
	}
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusCreated, toJSON(o, s.cfg.Window))
}

func (s *Service) handleOrderGet(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	o, err := s.Order(r.Context(), u.ID, r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toJSON(o, s.cfg.Window))
}

func (s *Service) handleOrderCancel(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	if err := s.Cancel(r.Context(), u.ID, r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusNoContent, nil)
}

package shows

import (
	"context"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Listeners returns the handlers of the events the part consumes; run
// them with bus.Listen(ctx, shows.Name, s.Listeners(), cfg).
func (s *Service) Listeners() []natsbus.Listener {
	return []natsbus.Listener{
		natsbus.On(s.onTicketCreated),
		natsbus.On(s.onTicketUpdated),
	}
}

// onTicketCreated adds an issued ticket (one with an eventId) to the
// count of its event's tickets left. A free-form listing is not counted.
func (s *Service) onTicketCreated(ctx context.Context, ev events.TicketCreated) error {
	if ev.EventID == "" {
		return nil
	}
	if !ids.Valid(ev.ID) || !ids.Valid(ev.EventID) {
		return natsbus.Permanent(fmt.Errorf("ticket.created with a bad ticket id %q or event id %q", ev.ID, ev.EventID))
	}
	status := ev.Status
	if status == "" {
		status = events.TicketOnSale
	}
	return s.countTicket(ctx, IssuedTicket{ID: ev.ID, EventID: ev.EventID, Version: ev.Version,
		OnSale: status == events.TicketOnSale}, true)
}

// onTicketUpdated moves an issued ticket on or off its event's count.
// Tickets sets eventId on every event of an issued ticket, so one without
// is a free-form listing. A version that comes before the one it follows
// (or before its ticket.created, on another consumer) is replica.ErrBehind,
// which the runner redelivers with a delay by itself.
func (s *Service) onTicketUpdated(ctx context.Context, ev events.TicketUpdated) error {
	if ev.EventID == "" {
		return nil
	}
	if !ids.Valid(ev.ID) || !ids.Valid(ev.EventID) {
		return natsbus.Permanent(fmt.Errorf("ticket.updated with a bad ticket id %q or event id %q", ev.ID, ev.EventID))
	}
	// A holder's resale listing is on sale, but not one of the tickets
	// left of the event's own sale (DESIGN.md 9.3).
	return s.countTicket(ctx, IssuedTicket{ID: ev.ID, EventID: ev.EventID, Version: ev.Version,
		OnSale: ev.Status == events.TicketOnSale && ev.OrderID == "" && !ev.Resale}, false)
}

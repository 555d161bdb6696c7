package tickets

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Listeners returns the handlers of the events the service consumes; run
// them with bus.Listen(ctx, tickets.Name, s.Listeners(), cfg).
func (s *Service) Listeners() []natsbus.Listener {
	return []natsbus.Listener{
		natsbus.On(s.onOrderCreated),
		natsbus.On(s.onOrderCancelled),
		natsbus.On(s.onOrderCompleted),
		natsbus.On(s.onEventCreated),
		natsbus.On(s.onEventUpdated),
		natsbus.On(s.onEventCancelled),
		natsbus.On(s.onPaymentDisputed),
	}
}

// onOrderCreated reserves the ticket for the order (version+1,
// ticket.updated). Already reserved by this order, or the order already
// cancelled or refused: done, nothing published. The seller changed the
// ticket after the version the order reserved, or the ticket is unknown:
// ticket.reservation_refused, acked (an answer, not a retry). Reserved by
// another order: an early message, redelivered until that order's
// cancellation (on its own consumer) has released the ticket.
func (s *Service) onOrderCreated(ctx context.Context, ev events.OrderCreated) error {
	if !ids.Valid(ev.ID) || !ids.Valid(ev.Ticket.ID) {
		return natsbus.Permanent(fmt.Errorf("order.created with a bad order id %q or ticket id %q", ev.ID, ev.Ticket.ID))
	}
	err := s.reserve(ctx, ev.Ticket.ID, Reservation{OrderID: ev.ID, Version: ev.Ticket.Version, Price: money.Cents(ev.Ticket.Price)})
	if err != nil {
		err = fmt.Errorf("reserve ticket %s for order %s: %w", ev.Ticket.ID, ev.ID, err)
	}
	if errors.Is(err, errHeldByOtherOrder) {
		return natsbus.Early(err)
	}
	return err
}

// onOrderCancelled puts the ticket back on sale (version+1, ticket.updated)
// if the order still holds it; otherwise it changes nothing and publishes
// nothing.
func (s *Service) onOrderCancelled(ctx context.Context, ev events.OrderCancelled) error {
	if !ids.Valid(ev.ID) || !ids.Valid(ev.Ticket.ID) {
		return natsbus.Permanent(fmt.Errorf("order.cancelled with a bad order id %q or ticket id %q", ev.ID, ev.Ticket.ID))
	}
	err := s.release(ctx, ev.Ticket.ID, ev.ID)
	if errors.Is(err, sqldb.ErrNotFound) {
		// Tickets is the source of truth: a ticket it does not know was
		// never reserved, so there is nothing to release, now or later.
		s.log.Warn("order cancelled for unknown ticket", "order_id", ev.ID, "ticket_id", ev.Ticket.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("release ticket %s from order %s: %w", ev.Ticket.ID, ev.ID, err)
	}
	return nil
}

// onOrderCompleted marks the ticket sold (version+1, ticket.updated with
// status sold). An order.completed that overtook its order.created (they
// come on separate consumers) is early and waits for it; one for an order
// tickets refused changes nothing (orders refunds it).
func (s *Service) onOrderCompleted(ctx context.Context, ev events.OrderCompleted) error {
	if !ids.Valid(ev.ID) || !ids.Valid(ev.Ticket.ID) {
		return natsbus.Permanent(fmt.Errorf("order.completed with a bad order id %q or ticket id %q", ev.ID, ev.Ticket.ID))
	}
	err := s.sell(ctx, ev.Ticket.ID, ev.ID, ev.UserID)
	switch {
	case errors.Is(err, errNotHeldBy):
		return natsbus.Early(fmt.Errorf("sell ticket %s to order %s: %w", ev.Ticket.ID, ev.ID, err))
	case errors.Is(err, sqldb.ErrNotFound):
		// Tickets is the source of truth: a ticket it does not know was
		// refused to the order, which orders refunds.
		s.log.Warn("order completed for unknown ticket", "order_id", ev.ID, "ticket_id", ev.Ticket.ID)
		return nil
	case err != nil:
		return fmt.Errorf("sell ticket %s to order %s: %w", ev.Ticket.ID, ev.ID, err)
	}
	return nil
}

// onEventCreated issues the event's tickets (Service.Issue). An event no
// ticket can be issued for (a bad id, organizer, capacity or face value)
// will not improve on redelivery: terminate. A redelivery, or one after a
// crash mid-way, issues what is left.
func (s *Service) onEventCreated(ctx context.Context, ev events.EventCreated) error {
	switch {
	case !ids.Valid(ev.ID) || !ids.Valid(ev.OrganizerID):
		return natsbus.Permanent(fmt.Errorf("event.created with a bad event id %q or organizer id %q", ev.ID, ev.OrganizerID))
	case ev.Capacity < 1 || ev.Capacity > MaxCapacity:
		return natsbus.Permanent(fmt.Errorf("event.created %s with capacity %d", ev.ID, ev.Capacity))
	case ev.FaceValue <= 0 || money.Cents(ev.FaceValue) > MaxPrice:
		return natsbus.Permanent(fmt.Errorf("event.created %s with face value %d", ev.ID, ev.FaceValue))
	}
	if err := s.applyDoorEvent(ctx, ev.EventState, true); err != nil {
		return err
	}
	return resumable(s.Issue(ctx, ev.EventState))
}

// onEventUpdated keeps the event's replica (its organizer and door staff,
// for check-in) at the event's version, then gives its unsold stock the
// event's face value and on-sale time (RepriceStock); one that overtook
// the version before it is early and waits for it.
func (s *Service) onEventUpdated(ctx context.Context, ev events.EventUpdated) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("event.updated with a bad event id %q", ev.ID))
	}
	if err := s.applyDoorEvent(ctx, ev.EventState, false); err != nil {
		return err
	}
	// Transfers turned off: the pending ones are cancelled.
	if err := s.closeTransfers(ctx, ev.ID); err != nil {
		return err
	}
	return resumable(s.RepriceStock(ctx, ev.EventState))
}

// resumable makes an issuing or a cancellation that stopped between chunks
// (errUnfinished: the handler's time was nearly up) an early message: it
// comes back and goes on where it stopped, without using up the
// deliveries kept for failures.
func resumable(err error) error {
	if errors.Is(err, errUnfinished) {
		return natsbus.Early(err)
	}
	return err
}

// onEventCancelled takes the event's tickets off sale (Service.CancelEvent)
// and marks the event's replica cancelled.
// One that overtook its event.created (another consumer) leaves nothing to
// issue when that comes.
func (s *Service) onEventCancelled(ctx context.Context, ev events.EventCancelled) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("event.cancelled with a bad event id %q", ev.ID))
	}
	if err := resumable(s.CancelEvent(ctx, ev.ID)); err != nil {
		return err
	}
	// Then the replica: a cancellation that overtook the event's earlier
	// versions waits for them (its tickets are already off sale, and
	// cancelling them again on redelivery changes nothing).
	if err := s.applyDoorEvent(ctx, ev.EventState, false); err != nil {
		return err
	}
	// And the pending transfers of its tickets.
	return s.closeTransfers(ctx, ev.ID)
}

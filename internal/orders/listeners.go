package orders

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Listeners are the events the orders service consumes. The runner acks a
// nil return, terminates a natsbus.Permanent error and naks anything else
// with a delay, so a handler only has to say which case it is in.
func (s *Service) Listeners() []natsbus.Listener {
	return []natsbus.Listener{
		natsbus.On(s.onTicketCreated),
		natsbus.On(s.onTicketUpdated),
		natsbus.On(s.onExpirationComplete),
		natsbus.On(s.onPaymentCreated),
		natsbus.On(s.onTicketReservationRefused),
		natsbus.On(s.onEventCreated),
		natsbus.On(s.onEventUpdated),
		natsbus.On(s.onEventCancelled),
		natsbus.On(s.onPaymentRefunded),
	}
}

// onEventCreated, onEventUpdated and onEventCancelled keep the replica of
// each event's times (ApplyEvent), by which a reservation by event learns
// that the event has ended. An event id that is not an id names nothing
// orders could sell: terminate.
func (s *Service) onEventCreated(ctx context.Context, ev events.EventCreated) error {
	return s.applyEvent(ctx, "event.created", ev.EventState, true)
}

func (s *Service) onEventUpdated(ctx context.Context, ev events.EventUpdated) error {
	return s.applyEvent(ctx, "event.updated", ev.EventState, false)
}

// onEventCancelled also asks for the refund of every paid order of the
// event (RefundEvent), before the replica: the refunds do not wait for an
// overtaken earlier version of the event. A walk stopped between chunks
// comes back early, without using up a delivery, and goes on.
func (s *Service) onEventCancelled(ctx context.Context, ev events.EventCancelled) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("event.cancelled with a bad event id %q", ev.ID))
	}
	if err := s.RefundEvent(ctx, ev.ID); err != nil {
		if errors.Is(err, errRefundsUnfinished) {
			return natsbus.Early(err)
		}
		return err
	}
	return s.applyEvent(ctx, "event.cancelled", ev.EventState, false)
}

// onPaymentRefunded records payments' refund on the order, which then
// says "refunded". payments only knows orders from order.created, so an
// unknown order cannot become known: terminate.
func (s *Service) onPaymentRefunded(ctx context.Context, ev events.PaymentRefunded) error {
	err := s.Refunded(ctx, ev.OrderID, ev.ID, money.Cents(ev.Amount))
	if errors.Is(err, ErrNotFound) {
		return natsbus.Permanent(err)
	}
	return err
}

func (s *Service) applyEvent(ctx context.Context, subject string, ev events.EventState, created bool) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("%s with a bad event id %q", subject, ev.ID))
	}
	return s.ApplyEvent(ctx, ev, created)
}

// onTicketCreated adds the ticket to the replica. A ticket id that is not
// an id (ids.Valid) can never be ordered: terminate.
func (s *Service) onTicketCreated(ctx context.Context, ev events.TicketCreated) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("ticket.created with a bad ticket id %q", ev.ID))
	}
	return s.AddTicket(ctx, Ticket{ID: ev.ID, Title: ev.Title, Price: money.Cents(ev.Price), Version: ev.Version,
		Status: ev.Status, UserID: ev.UserID, EventID: ev.EventID, OnSaleAt: ev.OnSaleAt})
}

// onTicketUpdated applies the new version; one that came before the
// version it follows (or before its ticket.created, on its own consumer)
// is replica.ErrBehind, which the runner naks with a delay by itself.
func (s *Service) onTicketUpdated(ctx context.Context, ev events.TicketUpdated) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("ticket.updated with a bad ticket id %q", ev.ID))
	}
	status := ev.Status
	switch {
	case status != "":
	case ev.OrderID != "": // an event from before the field existed
		status = events.TicketReserved
	default:
		status = events.TicketOnSale
	}
	err := s.UpdateTicket(ctx, Ticket{ID: ev.ID, Title: ev.Title, Price: money.Cents(ev.Price), Version: ev.Version,
		Status: status, UserID: ev.UserID, EventID: ev.EventID, OnSaleAt: ev.OnSaleAt, Resale: ev.Resale})
	if err != nil {
		return err
	}
	if ev.EventID != "" && status == events.TicketWithdrawn && ev.OrderID != "" {
		// An issued ticket leaves sale only with its event; the order
		// holding it learns so here (orders does not listen to event.*,
		// DESIGN.md section 1). A redelivery, applied or not to the
		// replica, cancels again, which changes nothing.
		if !ids.Valid(ev.OrderID) {
			return natsbus.Permanent(fmt.Errorf("ticket.updated %s with a bad order id %q", ev.ID, ev.OrderID))
		}
		return s.CancelForEvent(ctx, ev.OrderID)
	}
	return nil
}

// onExpirationComplete cancels the order unless it was paid. An unknown
// order can never become known (orders are created here, before their
// expiry is scheduled), so retrying is pointless: the runner terminates the
// message and logs it with its subject and id.
func (s *Service) onExpirationComplete(ctx context.Context, ev events.ExpirationComplete) error {
	err := s.Expire(ctx, ev.OrderID)
	if errors.Is(err, ErrNotFound) {
		return natsbus.Permanent(err)
	}
	return err
}

// onPaymentCreated completes the order, or asks for a refund when the order
// was cancelled first. payments only charges orders it knows from
// order.created, so an unknown order cannot become known: terminate.
func (s *Service) onPaymentCreated(ctx context.Context, ev events.PaymentCreated) error {
	err := s.Pay(ctx, ev.OrderID, Payment{ID: ev.ID, StripeID: ev.StripeID})
	if errors.Is(err, ErrNotFound) {
		return natsbus.Permanent(err)
	}
	return err
}

// onTicketReservationRefused cancels the order tickets would not reserve
// (or refunds it, if it was paid meanwhile). tickets only answers
// order.created events, which orders published, so an unknown order
// cannot become known: terminate.
func (s *Service) onTicketReservationRefused(ctx context.Context, ev events.TicketReservationRefused) error {
	err := s.Refuse(ctx, ev.OrderID, ev.Reason)
	if errors.Is(err, ErrNotFound) {
		return natsbus.Permanent(err)
	}
	return err
}

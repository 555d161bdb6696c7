package orders

import (
	"context"
	"errors"

	"github.com/ticketing/ticketing/internal/events"
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
		// TODO(payments): natsbus.On(s.onPaymentCreated) goes here once
		// payments exists: mark the order complete (version+1) through an
		// Order transition; a payment for an order already cancelled gets
		// events.OrderRefundRequested instead (DESIGN.md section 5, Pay).
	}
}

func (s *Service) onTicketCreated(ctx context.Context, ev events.TicketCreated) error {
	return s.AddTicket(ctx, Ticket{ID: ev.ID, Title: ev.Title, Price: money.Cents(ev.Price), Version: ev.Version})
}

// onTicketUpdated returns UpdateTicket's errReplicaBehind as a transient
// error: the runner naks it with a delay until the version before it lands.
func (s *Service) onTicketUpdated(ctx context.Context, ev events.TicketUpdated) error {
	return s.UpdateTicket(ctx, Ticket{ID: ev.ID, Title: ev.Title, Price: money.Cents(ev.Price), Version: ev.Version})
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

package expiration

import (
	"context"
	"errors"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Listeners are the events the expiration service consumes. The runner acks
// a nil return, so order.created is acked only once its schedule is stored;
// any other error is retried with a delay, and an event that can never be
// scheduled is terminated and logged.
func (s *Service) Listeners() []natsbus.Listener {
	return []natsbus.Listener{
		natsbus.On(s.onOrderCreated),
		natsbus.On(s.onOrderCancelled),
	}
}

func (s *Service) onOrderCreated(ctx context.Context, ev events.OrderCreated) error {
	return permanentIfInvalid(s.scheduleOrder(ctx, ev.ID, ev.ExpiresAt))
}

// onOrderCancelled drops the pending expiry of an order its buyer cancelled.
// orders ignores the expiry of a cancelled order anyway, so this is not
// needed for correctness; it is done because it is one cheap call, and
// without it every cancelled order would still fire an expiration.complete
// minutes later that orders must load the order for and that stays in the
// stream. If it loses a race with a redelivered order.created (the schedule
// is stored again after the purge), that useless expiry is all it costs.
// A paid order is not unscheduled (there is no event for it here); orders
// leaves a complete order alone when its expiry fires. For an order that
// was cancelled by its expiry the schedule is already gone and the purge
// does nothing.
func (s *Service) onOrderCancelled(ctx context.Context, ev events.OrderCancelled) error {
	return permanentIfInvalid(s.unschedule(ctx, ev.ID))
}

func permanentIfInvalid(err error) error {
	if errors.Is(err, errInvalidOrder) {
		return natsbus.Permanent(err)
	}
	return err
}

package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Listeners are the events the payments service consumes. The runner acks
// a nil return, terminates a natsbus.Permanent error and naks anything
// else with a delay, so a handler only has to say which case it is in.
func (s *Service) Listeners() []natsbus.Listener {
	return []natsbus.Listener{
		natsbus.On(s.onOrderCreated),
		natsbus.On(s.onOrderCancelled),
		natsbus.On(s.onOrderCompleted),
		natsbus.On(s.onOrderRefundRequested),
		natsbus.On(s.onEventCreated),
		natsbus.On(s.onEventUpdated),
		natsbus.On(s.onEventCancelled),
		natsbus.On(s.onPayoutDue),
	}
}

// onOrderCreated adds the order to the replica. An order id that is not an
// id (ids.Valid) can never be stored or paid: terminate.
func (s *Service) onOrderCreated(ctx context.Context, ev events.OrderCreated) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("order.created with a bad order id %q", ev.ID))
	}
	// An order.created from before fees (no fee, no total) charges the
	// price alone. A total that is not price + fee cannot be charged as
	// shown: terminate rather than guess.
	var fee int64
	if ev.Fee != nil {
		fee = *ev.Fee
	}
	if fee < 0 || ev.Total != nil && *ev.Total != ev.Ticket.Price+fee {
		return natsbus.Permanent(fmt.Errorf("order.created %s: total %v is not price %d + fee %d", ev.ID, ev.Total, ev.Ticket.Price, fee))
	}
	return s.AddOrder(ctx, Order{
		ID:        ev.ID,
		UserID:    ev.UserID,
		Price:     money.Cents(ev.Ticket.Price),
		Fee:       money.Cents(fee),
		SellerID:  ev.SellerID,
		Payee:     ev.Payee,
		EventID:   ev.EventID,
		Status:    ev.Status,
		Version:   ev.Version,
		ExpiresAt: ev.ExpiresAt,
	})
}

// onOrderCancelled applies the cancellation; one that came before the
// version it follows (or before its order.created, on its own consumer) is
// replica.ErrBehind, which the runner naks with a delay by itself. A claim the order left
// pending is resolved at once: if its charge went through, the money goes
// back now, not at the reconciler's next round.
func (s *Service) onOrderCancelled(ctx context.Context, ev events.OrderCancelled) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("order.cancelled with a bad order id %q", ev.ID))
	}
	if err := s.CancelOrder(ctx, ev.ID, ev.Version); err != nil {
		return err
	}
	s.reconcileCancelled(ctx, ev.ID)
	return nil
}

// onOrderCompleted keeps the replica's version in step with the order's
// (the replica rule: a later order event applies only on top of it).
func (s *Service) onOrderCompleted(ctx context.Context, ev events.OrderCompleted) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("order.completed with a bad order id %q", ev.ID))
	}
	return s.CompleteOrder(ctx, ev.ID, ev.Version)
}

// onOrderRefundRequested refunds the payment. An unknown or never-charged
// payment, or a refund the provider refuses, cannot get better by
// retrying: the runner terminates the message and logs it with its
// subject and id, for a person to look at. Anything else is retried: the
// provider or the database unreachable (an Unavailable fault) for as long
// as that lasts, without using up the message's deliveries.
func (s *Service) onOrderRefundRequested(ctx context.Context, ev events.OrderRefundRequested) error {
	err := s.Refund(ctx, ev.PaymentID)
	var fe *fault.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPaymentNotFound), errors.Is(err, errPaymentPending),
		errors.As(err, &fe) && (fe.Kind == fault.Invalid || fe.Kind == fault.Declined):
		return natsbus.Permanent(err)
	}
	return err
}

// onPayoutDue runs the payouts due of an event, or of every sale (the
// sweep). A run cut short (the provider out of reach, the handler's time
// up) is an error: the bus redelivers the message later and the next run
// replays what this one left pending; a provider without payouts is
// permanent. An event id that is not an id names no event: terminate.
func (s *Service) onPayoutDue(ctx context.Context, ev events.PayoutDue) error {
	if ev.EventID != "" && !ids.Valid(ev.EventID) {
		return natsbus.Permanent(fmt.Errorf("payout.due with a bad event id %q", ev.EventID))
	}
	run, err := s.RunPayouts(ctx, ev.EventID)
	if run.Paid > 0 || run.Refused > 0 || err != nil {
		s.log.Info("payout run", "event_id", ev.EventID, "paid", run.Paid, "amount", run.Amount,
			"refused", run.Refused, "err", err)
	}
	if errors.Is(err, errPayer) {
		return natsbus.Permanent(err)
	}
	return err
}

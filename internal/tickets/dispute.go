package tickets

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// A disputed payment (payment.disputed, DESIGN.md 9.4): the buyer asked
// their bank for the money back, so the ticket the order bought must not
// let them in. Its code is void (status void, code version moved on,
// history "voided"), as an event's cancellation voids it, provided the
// disputing buyer still holds the ticket: held, or listed for resale. A
// ticket that has moved on to someone else (resold, transferred) keeps
// their code: they paid, or were given it, in good faith. A free-form
// listing has no code to void.

// errListingReserved is a disputing holder's resale listing that an
// order holds right now: the dispute waits for that order to end (sold:
// the ticket is the buyer's; released: the listing is void).
var errListingReserved = errors.New("the disputed holder's listing is reserved by an order")

// VoidDisputed voids the code of an issued ticket that buyerID, whose
// payment is disputed, still holds. It reports whether anything changed.
func (t *Ticket) VoidDisputed(buyerID string) (bool, error) {
	if t.EventID == "" || t.HolderID == "" || t.HolderID != buyerID {
		return false, nil
	}
	switch t.Status {
	case StatusHeld:
		return t.Void(), nil
	case StatusOnSale:
		// The holder's listing: off sale, with their code.
		t.Status = StatusVoid
		t.CodeVersion++
		t.note(ReasonVoided)
		return true, nil
	case StatusReserved:
		return false, errListingReserved
	}
	return false, nil
}

// voidDisputed voids the code of the ticket orderID bought, if buyerID
// still holds it (Ticket.VoidDisputed), with its ticket.updated. An order
// whose sale tickets has not learned yet (order.completed on its own
// consumer) is early; one that never bought a ticket (refused or
// released: orders refunded it) leaves nothing to void.
func (s *Service) voidDisputed(ctx context.Context, orderID, buyerID string) error {
	var ticketID string
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		id, err := s.store.SoldTicket(ctx, tx, orderID)
		if errors.Is(err, sqldb.ErrNotFound) {
			settled, serr := s.store.Settled(ctx, tx, orderID)
			if serr != nil {
				return serr
			}
			if !settled {
				return natsbus.Early(fmt.Errorf("payment of order %s disputed before its sale was applied", orderID))
			}
			return nil
		}
		ticketID = id
		return err
	})
	if err != nil || ticketID == "" {
		return err
	}
	_, err = s.change(ctx, ticketID, func(_ *sqldb.Tx, t *Ticket) (bool, error) {
		return t.VoidDisputed(buyerID)
	})
	if errors.Is(err, errListingReserved) {
		return natsbus.Early(fmt.Errorf("void ticket %s of disputed order %s: %w", ticketID, orderID, err))
	}
	if err != nil {
		return fmt.Errorf("void ticket %s of disputed order %s: %w", ticketID, orderID, err)
	}
	return nil
}

// onPaymentDisputed voids the code of the disputed order's ticket.
func (s *Service) onPaymentDisputed(ctx context.Context, ev events.PaymentDisputed) error {
	if !ids.Valid(ev.OrderID) || ev.UserID == "" {
		return natsbus.Permanent(fmt.Errorf("payment.disputed with a bad order id %q or user id %q", ev.OrderID, ev.UserID))
	}
	if err := s.voidDisputed(ctx, ev.OrderID, ev.UserID); err != nil {
		return err
	}
	s.log.Info("disputed order's ticket handled", "order_id", ev.OrderID, "dispute_id", ev.ID)
	return nil
}

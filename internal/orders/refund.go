package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// An event's cancellation refunds every paid order of it (DESIGN.md 9.4):
// orders, which owns the orders, asks payments for each refund with
// order.refund_requested through its outbox, the path a payment that raced
// the order's cancellation already takes, and payments answers
// payment.refunded once the money is back. Each order is asked for once:
// its refund_requested_at is set in the transaction that writes the event.
//
// Two paths ask, and between them miss no paid order:
//   - RefundEvent, on event.cancelled, first records the cancellation
//     (cancelled_events), then walks the event's complete orders not yet
//     asked for, in chunks;
//   - Pay, completing an order of an event recorded cancelled, asks at
//     once. On PostgreSQL the record takes the event's lock exclusively and
//     a payment shares it, so a payment either commits before the record
//     (and the walk, which starts after it, finds the order) or reads it.

// DefaultRefundChunk is how many orders one transaction of the walk asks
// refunds for.
const DefaultRefundChunk = 200

// refundMargin is how much of its deadline the walk keeps when it stops
// between chunks (to resume on redelivery) rather than risk a chunk cut
// off mid-way.
const refundMargin = 5 * time.Second

// errRefundsUnfinished is a walk stopped between chunks, to resume on
// redelivery: the orders asked for are marked, so it goes on from there.
var errRefundsUnfinished = errors.New("refunds stopped between chunks to resume on redelivery")

// RefundEvent records that eventID was cancelled and asks for the refund
// of each of its paid orders (primary and resale: every order of one of
// its tickets) not asked for before. Run again (a redelivery, or after
// errRefundsUnfinished) it asks only for those still unasked: none once
// it has finished.
func (s *Service) RefundEvent(ctx context.Context, eventID string) error {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.MarkEventCancelled(ctx, tx, eventID, now)
	})
	if err != nil {
		return fmt.Errorf("refund event %s: %w", eventID, err)
	}
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < refundMargin {
			return fmt.Errorf("refund event %s: %w", eventID, errRefundsUnfinished)
		}
		n := 0
		err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			list, err := s.store.RefundableOrders(ctx, tx, eventID, s.cfg.RefundChunk)
			if err != nil {
				return err
			}
			n = len(list)
			for i := range list {
				if err := s.requestRefund(ctx, tx, &list[i], now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("refund event %s: %w", eventID, err)
		}
		if n < s.cfg.RefundChunk {
			return nil
		}
	}
}

// requestRefund asks for the refund of the paid order o's payment, unless
// it was asked for before: it marks the order and writes
// order.refund_requested in tx, or does nothing.
func (s *Service) requestRefund(ctx context.Context, tx *sqldb.Tx, o *Order, now time.Time) error {
	if o.PaymentID == "" || !o.RefundRequestedAt.IsZero() {
		return nil
	}
	ok, err := s.store.MarkRefundRequested(ctx, tx, o.ID, now)
	if err != nil || !ok {
		return err // !ok: asked for by another path in the meantime
	}
	o.RefundRequestedAt = now
	s.log.Info("refund requested", "order_id", o.ID, "payment_id", o.PaymentID,
		"total", o.Total().String())
	return s.ob.Add(ctx, tx, o.RefundRequested(Payment{ID: o.PaymentID, StripeID: o.StripeID}))
}

// refundIfEventCancelled asks, in tx, for the refund of the order o just
// paid if its ticket's event was cancelled (see RefundEvent).
func (s *Service) refundIfEventCancelled(ctx context.Context, tx *sqldb.Tx, o *Order) error {
	if o.Ticket.EventID == "" {
		return nil
	}
	cancelled, err := s.store.EventCancelledForPay(ctx, tx, o.Ticket.EventID)
	if err != nil || !cancelled {
		return err
	}
	return s.requestRefund(ctx, tx, o, s.cfg.Now().UTC().Truncate(time.Millisecond))
}

// Refunded records payments' report that the payment paymentID of order
// orderID was given back (payment.refunded): the order then says
// "refunded". A report already recorded, or of a payment that is not the
// order's (a second, late payment refunded on its own), changes nothing.
// An unknown order is ErrNotFound.
func (s *Service) Refunded(ctx context.Context, orderID, paymentID string, amount money.Cents) error {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	err := s.changeOrder(ctx, orderID, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentID != paymentID || !o.RefundedAt.IsZero() {
			return nil
		}
		return s.store.SetRefunded(ctx, tx, o.ID, now, amount)
	})
	if err != nil {
		return fmt.Errorf("refunded: %w", err)
	}
	return nil
}

// MarkEventCancelled records eventID as cancelled, holding its lock
// exclusively (lockEvent) until tx ends; recording it again changes
// nothing.
func (s *Store) MarkEventCancelled(ctx context.Context, tx *sqldb.Tx, eventID string, now time.Time) error {
	if err := lockEvent(ctx, tx, eventID, false); err != nil {
		return err
	}
	const q = `INSERT INTO cancelled_events (id, cancelled_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, eventID, now.UnixMilli()); err != nil {
		return fmt.Errorf("mark event cancelled: %w", sqldb.Err(err))
	}
	return nil
}

// EventCancelledForPay takes eventID's lock shared (lockEvent) and reports
// whether the event was recorded cancelled.
func (s *Store) EventCancelledForPay(ctx context.Context, tx *sqldb.Tx, eventID string) (bool, error) {
	if err := lockEvent(ctx, tx, eventID, true); err != nil {
		return false, err
	}
	var one int
	err := sqldb.Err(tx.QueryRowContext(ctx, `SELECT 1 FROM cancelled_events WHERE id = $1`, eventID).Scan(&one))
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("event cancelled: %w", err)
	}
	return true, nil
}

// RefundableOrders reads (and on PostgreSQL locks) up to limit complete
// orders of eventID's tickets whose refund was not asked for, by id.
func (s *Store) RefundableOrders(ctx context.Context, tx *sqldb.Tx, eventID string, limit int) ([]Order, error) {
	q := `SELECT ` + orderColumns + `
		FROM orders o JOIN tickets t ON t.id = o.ticket_id
		WHERE t.event_id = $1 AND o.status = 'complete' AND o.refund_requested_at IS NULL
		ORDER BY o.id LIMIT $2`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE OF o`
	}
	rows, err := tx.QueryContext(ctx, q, eventID, limit)
	if err != nil {
		return nil, fmt.Errorf("refundable orders: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("refundable orders: %w", sqldb.Err(err))
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("refundable orders: %w", sqldb.Err(err))
	}
	return out, nil
}

// MarkRefundRequested sets the order's refund_requested_at unless it is
// set, and reports whether it did.
func (s *Store) MarkRefundRequested(ctx context.Context, tx *sqldb.Tx, id string, now time.Time) (bool, error) {
	const q = `UPDATE orders SET refund_requested_at = $2 WHERE id = $1 AND refund_requested_at IS NULL`
	res, err := tx.ExecContext(ctx, q, id, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("mark refund requested: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark refund requested: %w", err)
	}
	return n == 1, nil
}

// SetRefunded records the order's refund done: when, and how many cents.
func (s *Store) SetRefunded(ctx context.Context, tx *sqldb.Tx, id string, now time.Time, amount money.Cents) error {
	const q = `UPDATE orders SET refunded_at = $2, refunded = $3 WHERE id = $1 AND refunded_at IS NULL`
	if _, err := tx.ExecContext(ctx, q, id, now.UnixMilli(), int64(amount)); err != nil {
		return fmt.Errorf("set refunded: %w", sqldb.Err(err))
	}
	return nil
}

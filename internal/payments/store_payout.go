package payments

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// DuePayouts returns up to limit orders whose proceeds are due at now and
// not yet claimed, of the event eventID ("" for every sale), after the
// order id after, in order id order: paid (the payment succeeded, not
// refunded), not disputed, of an event not cancelled, due (the event's end
// plus hold, or a free-form sale plus hold; an event's end is its endsAt,
// or its startsAt plus events.DefaultEventLength: DueAt's rule), with a
// price, and whose payee has an enabled payout account.
func (s *Store) DuePayouts(ctx context.Context, eventID string, now time.Time, hold time.Duration, after string, limit int) ([]Payout, error) {
	const q = `SELECT o.id, p.id, o.seller_id, o.payee, a.account_id, p.stripe_id, o.price
		FROM orders o
		JOIN payments p ON p.order_id = o.id AND p.status = 'succeeded'
		JOIN payout_accounts a ON a.user_id = o.seller_id AND a.status = 'enabled'
		LEFT JOIN sale_events v ON v.id = o.event_id
		LEFT JOIN payouts po ON po.order_id = o.id
		WHERE o.id > $1 AND ($2 = '' OR o.event_id = $2) AND o.seller_id <> '' AND o.price > 0
			AND po.order_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = o.id)
			AND COALESCE(v.cancelled, 0) = 0
			AND CASE
				WHEN o.event_id = '' THEN p.updated_at + CAST($3 AS BIGINT)
				WHEN v.ends_at > 0 THEN v.ends_at + CAST($3 AS BIGINT)
				WHEN v.starts_at > 0 THEN v.starts_at + CAST($4 AS BIGINT)
				ELSE CAST($5 AS BIGINT) + 1
			END <= CAST($5 AS BIGINT)
		ORDER BY o.id
		LIMIT $6`
	rows, err := s.db.Read().QueryContext(ctx, q, after, eventID, hold.Milliseconds(),
		(events.DefaultEventLength + hold).Milliseconds(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("due payouts: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []Payout
	for rows.Next() {
		var (
			p     Payout
			payee string
		)
		if err := rows.Scan(&p.OrderID, &p.PaymentID, &p.PayeeID, &payee, &p.Destination, &p.ChargeID, &p.Amount); err != nil {
			return nil, fmt.Errorf("due payouts: %w", sqldb.Err(err))
		}
		p.Account = PayableAccount(Order{SellerID: p.PayeeID, Payee: payee})
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due payouts: %w", sqldb.Err(err))
	}
	return out, nil
}

const payoutColumns = `order_id, payment_id, payee_id, account, destination, charge_id, amount, status,
	idempotency_key, transfer_id, claimed_until, created_at, updated_at`

// scanPayout reads payoutColumns and then extra, the query's further
// columns.
func scanPayout(s scanner, extra ...any) (Payout, error) {
	var (
		p                       Payout
		claimed, created, updtd int64
	)
	err := s.Scan(append([]any{&p.OrderID, &p.PaymentID, &p.PayeeID, &p.Account, &p.Destination, &p.ChargeID, &p.Amount,
		&p.Status, &p.IdempotencyKey, &p.TransferID, &claimed, &created, &updtd}, extra...)...)
	if err != nil {
		return Payout{}, err
	}
	p.ClaimedUntil = time.UnixMilli(claimed).UTC()
	p.CreatedAt, p.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updtd).UTC()
	return p, nil
}

// PendingPayouts returns up to limit payouts left pending by a run that
// did not finish, whose lease is over at now, of the event eventID (""
// for every sale), each with whether its order should no longer be paid
// (Payout.Stopped: disputed, its payment no longer succeeded, its event
// cancelled since the claim).
func (s *Store) PendingPayouts(ctx context.Context, eventID string, now time.Time, limit int) ([]Payout, error) {
	const q = `SELECT ` + payoutColumns + `,
			CASE WHEN EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = po.order_id)
				OR NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = po.payment_id AND p.status = 'succeeded')
				OR EXISTS (SELECT 1 FROM orders o JOIN sale_events v ON v.id = o.event_id
					WHERE o.id = po.order_id AND v.cancelled <> 0)
			THEN 1 ELSE 0 END
		FROM payouts po
		WHERE status = 'pending' AND claimed_until < $1
			AND ($2 = '' OR order_id IN (SELECT id FROM orders WHERE event_id = $2))
		ORDER BY claimed_until LIMIT $3`
	return s.queryPayouts(ctx, true, q, now.UnixMilli(), eventID, limit)
}

// PayoutsOf returns up to limit payouts of a payee, newest first (by
// claim, then order id), after the payout of the order after ("" from the
// newest): keyset paging, so a payout claimed between two pages neither
// repeats nor shifts what follows. An after that is not the payee's
// payout ends the list.
func (s *Store) PayoutsOf(ctx context.Context, payeeID, after string, limit int) ([]Payout, error) {
	q := `SELECT ` + payoutColumns + ` FROM payouts WHERE payee_id = $1
		AND ($2 = '' OR (created_at, order_id) < (SELECT created_at, order_id FROM payouts WHERE order_id = $2 AND payee_id = $1))
		ORDER BY created_at DESC, order_id DESC LIMIT $3`
	return s.queryPayouts(ctx, false, q, payeeID, after, limit)
}

// QueryPayout reads the payout of an order.
func (s *Store) QueryPayout(ctx context.Context, orderID string) (Payout, error) {
	p, err := scanPayout(s.db.Read().QueryRowContext(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE order_id = $1`, orderID))
	if err != nil {
		return Payout{}, fmt.Errorf("query payout: %w", sqldb.Err(err))
	}
	return p, nil
}

// queryPayouts runs q, which selects payoutColumns and, with stopped,
// then whether the order should no longer be paid (Payout.Stopped).
func (s *Store) queryPayouts(ctx context.Context, stopped bool, q string, args ...any) ([]Payout, error) {
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query payouts: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []Payout
	for rows.Next() {
		var (
			stop  int
			extra []any
		)
		if stopped {
			extra = []any{&stop}
		}
		p, err := scanPayout(rows, extra...)
		if err != nil {
			return nil, fmt.Errorf("query payouts: %w", sqldb.Err(err))
		}
		p.Stopped = stop != 0
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query payouts: %w", sqldb.Err(err))
	}
	return out, nil
}

// ClaimPayout inserts a pending payout; ok is false when the order has
// one already (another run claimed it).
func (s *Store) ClaimPayout(ctx context.Context, tx *sqldb.Tx, p Payout) (ok bool, err error) {
	q := `INSERT INTO payouts (` + payoutColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (order_id) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, p.OrderID, p.PaymentID, p.PayeeID, p.Account, p.Destination, p.ChargeID,
		int64(p.Amount), p.Status, p.IdempotencyKey, p.TransferID, unixMilli(p.ClaimedUntil),
		unixMilli(p.CreatedAt), unixMilli(p.UpdatedAt))
	return affected(res, err, "claim payout")
}

// LeasePayout moves a pending payout's lease from prev to until; ok is
// false when another run moved it first (or it is no longer pending).
func (s *Store) LeasePayout(ctx context.Context, tx *sqldb.Tx, orderID string, prev, until time.Time) (ok bool, err error) {
	const q = `UPDATE payouts SET claimed_until = $1 WHERE order_id = $2 AND status = 'pending' AND claimed_until = $3`
	res, err := tx.ExecContext(ctx, q, unixMilli(until), orderID, unixMilli(prev))
	return affected(res, err, "lease payout")
}

// SetPayoutPaid records the transfer of a pending payout; ok is false
// when it was recorded already.
func (s *Store) SetPayoutPaid(ctx context.Context, tx *sqldb.Tx, orderID, transferID string, now time.Time) (ok bool, err error) {
	const q = `UPDATE payouts SET status = 'paid', transfer_id = $1, claimed_until = 0, updated_at = $2
		WHERE order_id = $3 AND status = 'pending'`
	res, err := tx.ExecContext(ctx, q, transferID, now.UnixMilli(), orderID)
	return affected(res, err, "record payout")
}

// DeletePendingPayout drops a pending payout under which nothing moved
// (refused, or stopped before any transfer).
func (s *Store) DeletePendingPayout(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM payouts WHERE order_id = $1 AND status = 'pending'`, orderID); err != nil {
		return fmt.Errorf("delete pending payout: %w", sqldb.Err(err))
	}
	return nil
}

// ReleasePayoutLeases ends the lease of every pending payout; n is how
// many.
func (s *Store) ReleasePayoutLeases(ctx context.Context, tx *sqldb.Tx) (n int64, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE payouts SET claimed_until = 0 WHERE status = 'pending' AND claimed_until > 0`)
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("release payout leases: %w", sqldb.Err(err))
	}
	return n, nil
}

// TxnExists says whether the ledger has the transaction id, inside tx.
func (s *Store) TxnExists(ctx context.Context, tx *sqldb.Tx, id string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM ledger_transactions WHERE id = $1`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("ledger transaction %s: %w", id, sqldb.Err(err))
	}
	return n > 0, nil
}

// EventPayoutState reads what the payout schedule of an event needs: its
// times and whether it was cancelled (found is false for an event the
// replica does not hold).
func (s *Store) EventPayoutState(ctx context.Context, eventID string) (startsAt, endsAt time.Time, cancelled, found bool, err error) {
	var starts, ends, c int64
	err = s.db.Read().QueryRowContext(ctx, `SELECT starts_at, ends_at, cancelled FROM sale_events WHERE id = $1`, eventID).
		Scan(&starts, &ends, &c)
	if err == sql.ErrNoRows {
		return time.Time{}, time.Time{}, false, false, nil
	}
	if err != nil {
		return time.Time{}, time.Time{}, false, false, fmt.Errorf("event %s: %w", eventID, sqldb.Err(err))
	}
	if starts != 0 {
		startsAt = time.UnixMilli(starts).UTC()
	}
	if ends != 0 {
		endsAt = time.UnixMilli(ends).UTC()
	}
	return startsAt, endsAt, c != 0, true, nil
}

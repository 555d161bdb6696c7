package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Dispute is a charge its buyer disputed with their bank.
type Dispute struct {
	// ID is the provider's id of the dispute (dp_...).
	ID        string
	PaymentID string
	OrderID   string
	// ChargeID is the provider's id of the disputed charge, as the dispute
	// named it.
	ChargeID  string
	Amount    int64
	Reason    string
	CreatedAt time.Time
}

// WebhookSeen says whether the provider's event id was processed before.
func (s *Store) WebhookSeen(ctx context.Context, id string) (bool, error) {
	var one int
	err := sqldb.Err(s.db.Read().QueryRowContext(ctx, `SELECT 1 FROM webhook_events WHERE id = $1`, id).Scan(&one))
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("webhook seen: %w", err)
	}
	return true, nil
}

// RecordWebhook records that the provider's event id was processed, in
// the transaction of its effect; ok is false when it was recorded before
// (a redelivery racing this one), and the caller then does nothing.
func (s *Store) RecordWebhook(ctx context.Context, tx *sqldb.Tx, id, typ string, at time.Time) (ok bool, err error) {
	const q = `INSERT INTO webhook_events (id, type, received_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, id, typ, at.UnixMilli())
	return affected(res, err, "record webhook")
}

// PaymentByStripeID reads, inside tx, the payment whose provider id is one
// of ids (a dispute names both the PaymentIntent and the charge; payments
// keep the PaymentIntent's, the sandbox its charge's). Empty ids match
// nothing.
func (s *Store) PaymentByStripeID(ctx context.Context, tx *sqldb.Tx, ids ...string) (Payment, error) {
	for _, id := range ids {
		if id == "" {
			continue
		}
		p, err := scanPayment(tx.QueryRowContext(ctx,
			`SELECT `+paymentColumns+` FROM payments WHERE stripe_id = $1 AND stripe_id <> ''`, id))
		if err == nil {
			return p, nil
		}
		if err = sqldb.Err(err); !errors.Is(err, sqldb.ErrNotFound) {
			return Payment{}, fmt.Errorf("payment by stripe id: %w", err)
		}
	}
	return Payment{}, fmt.Errorf("payment by stripe id: %w", sqldb.ErrNotFound)
}

// InsertDispute records a dispute; ok is false when it was recorded
// before.
func (s *Store) InsertDispute(ctx context.Context, tx *sqldb.Tx, d Dispute) (ok bool, err error) {
	const q = `INSERT INTO disputes (id, payment_id, order_id, charge_id, amount, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, d.ID, d.PaymentID, d.OrderID, d.ChargeID, d.Amount, d.Reason, d.CreatedAt.UnixMilli())
	return affected(res, err, "insert dispute")
}

// Disputed says whether the order's payment is disputed: a payout run
// holds such an order's proceeds back.
func (s *Store) Disputed(ctx context.Context, orderID string) (bool, error) {
	var n int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM disputes WHERE order_id = $1`, orderID).Scan(&n); err != nil {
		return false, fmt.Errorf("disputed: %w", sqldb.Err(err))
	}
	return n > 0, nil
}

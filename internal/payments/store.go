package payments

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the payments service's tables; pass it to sqldb.Open
// beside outbox.Migrations.
var Migrations = sqldb.EmbeddedMigrations("payments", migrationFiles)

// Store keeps payments and the order replica in the service's database.
// Methods taking a *sqldb.Tx run inside the caller's transaction, so a
// change and its outbox event commit together.
type Store struct {
	db *sqldb.DB
}

// NewStore returns a Store over db.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

const orderColumns = `id, user_id, price, status, version, expires_at, charge_attempts, fee, seller_id, payee, event_id`

func scanOrder(s scanner) (Order, error) {
	var (
		o       Order
		status  string
		expires int64
	)
	if err := s.Scan(&o.ID, &o.UserID, &o.Price, &status, &o.Version, &expires, &o.Attempts,
		&o.Fee, &o.SellerID, &o.Payee, &o.EventID); err != nil {
		return Order{}, err
	}
	o.Status = events.OrderStatus(status)
	if expires != 0 {
		o.ExpiresAt = time.UnixMilli(expires).UTC()
	}
	return o, nil
}

const paymentColumns = `id, order_id, status, amount, token, idempotency_key, stripe_id,
	claimed_until, created_at, updated_at`

func scanPayment(s scanner) (Payment, error) {
	var (
		p                       Payment
		status                  string
		claimed, created, updtd int64
	)
	err := s.Scan(&p.ID, &p.OrderID, &status, &p.Amount, &p.Token, &p.IdempotencyKey, &p.StripeID,
		&claimed, &created, &updtd)
	if err != nil {
		return Payment{}, err
	}
	p.Status = Status(status)
	p.ClaimedUntil = time.UnixMilli(claimed).UTC()
	p.CreatedAt = time.UnixMilli(created).UTC()
	p.UpdatedAt = time.UnixMilli(updtd).UTC()
	return p, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// InsertOrder adds an order to the replica; an order already there is left
// as it is (a redelivered order.created).
func (s *Store) InsertOrder(ctx context.Context, tx *sqldb.Tx, o Order) error {
	_, err := replica.Insert(ctx, tx, "orders", o.ID, o.Version, replica.Set{
		"user_id": o.UserID, "price": int64(o.Price), "status": string(o.Status), "expires_at": unixMilli(o.ExpiresAt),
		"fee": int64(o.Fee), "seller_id": o.SellerID, "payee": o.Payee, "event_id": o.EventID,
	})
	return err
}

// ApplyOrderStatus sets an order's status at version by the replica rule:
// only on top of version-1 (replica.Apply).
func (s *Store) ApplyOrderStatus(ctx context.Context, tx *sqldb.Tx, id string, status events.OrderStatus, version int64) (replica.Outcome, error) {
	return replica.Apply(ctx, tx, "orders", id, version, replica.Set{"status": string(status)})
}

// OrderForUpdate reads an order inside tx and, on PostgreSQL, locks its row
// until tx ends, so the claims of one order take turns. (SQLite's writer
// is alone anyway.)
func (s *Store) OrderForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (Order, error) {
	q := `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	o, err := scanOrder(tx.QueryRowContext(ctx, q, id))
	if err != nil {
		return Order{}, fmt.Errorf("order for update: %w", sqldb.Err(err))
	}
	return o, nil
}

// QueryOrder reads one order of the replica.
func (s *Store) QueryOrder(ctx context.Context, id string) (Order, error) {
	o, err := scanOrder(s.db.Read().QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
	if err != nil {
		return Order{}, fmt.Errorf("query order: %w", sqldb.Err(err))
	}
	return o, nil
}

// SetAttempts records how many claims the order has had.
func (s *Store) SetAttempts(ctx context.Context, tx *sqldb.Tx, orderID string, attempts int64) error {
	const q = `UPDATE orders SET charge_attempts = $1 WHERE id = $2`
	if _, err := tx.ExecContext(ctx, q, attempts, orderID); err != nil {
		return fmt.Errorf("set attempts: %w", sqldb.Err(err))
	}
	return nil
}

// PaymentByOrder reads the payment of an order inside tx.
func (s *Store) PaymentByOrder(ctx context.Context, tx *sqldb.Tx, orderID string) (Payment, error) {
	p, err := scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE order_id = $1`, orderID))
	if err != nil {
		return Payment{}, fmt.Errorf("payment by order: %w", sqldb.Err(err))
	}
	return p, nil
}

// QueryPayment reads one payment.
func (s *Store) QueryPayment(ctx context.Context, id string) (Payment, error) {
	p, err := scanPayment(s.db.Read().QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if err != nil {
		return Payment{}, fmt.Errorf("query payment: %w", sqldb.Err(err))
	}
	return p, nil
}

// InsertPayment stores a claim. A second payment of the same order breaks
// UNIQUE (order_id): sqldb.ErrConflict.
func (s *Store) InsertPayment(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	const q = `INSERT INTO payments (` + paymentColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	_, err := tx.ExecContext(ctx, q, p.ID, p.OrderID, string(p.Status), int64(p.Amount), p.Token,
		p.IdempotencyKey, p.StripeID, unixMilli(p.ClaimedUntil), unixMilli(p.CreatedAt), unixMilli(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert payment: %w", sqldb.Err(err))
	}
	return nil
}

// Lease moves the lease of a pending claim from prev to until (zero
// releases it), provided nobody moved it since: ok is false otherwise.
func (s *Store) Lease(ctx context.Context, tx *sqldb.Tx, id string, prev, until, now time.Time) (ok bool, err error) {
	const q = `UPDATE payments SET claimed_until = $1, updated_at = $2
		WHERE id = $3 AND status = 'pending' AND claimed_until = $4`
	res, err := tx.ExecContext(ctx, q, unixMilli(until), now.UnixMilli(), id, unixMilli(prev))
	return affected(res, err, "lease payment")
}

// SetStatus moves a payment from status from to p.Status, recording
// p.StripeID; ok is false when the payment was no longer in from.
func (s *Store) SetStatus(ctx context.Context, tx *sqldb.Tx, p Payment, from Status) (ok bool, err error) {
	const q = `UPDATE payments SET status = $1, stripe_id = $2, claimed_until = 0, updated_at = $3
		WHERE id = $4 AND status = $5`
	res, err := tx.ExecContext(ctx, q, string(p.Status), p.StripeID, unixMilli(p.UpdatedAt), p.ID, string(from))
	return affected(res, err, "set payment status")
}

// DeletePending deletes a pending claim (its charge was refused).
func (s *Store) DeletePending(ctx context.Context, tx *sqldb.Tx, id string) error {
	const q = `DELETE FROM payments WHERE id = $1 AND status = 'pending'`
	if _, err := tx.ExecContext(ctx, q, id); err != nil {
		return fmt.Errorf("delete claim: %w", sqldb.Err(err))
	}
	return nil
}

// DueClaims lists, oldest attempt first, at most limit pending claims
// nobody holds whose last attempt (updated_at) ended long enough ago: at
// least minAge, and at least as long as the claim had lived by then,
// capped at maxWait. The wait thus doubles with each attempt that leaves
// the outcome unknown, without a counter to keep.
func (s *Store) DueClaims(ctx context.Context, now time.Time, minAge, maxWait time.Duration, limit int) ([]Payment, error) {
	const q = `SELECT ` + paymentColumns + ` FROM payments
		WHERE status = 'pending' AND claimed_until <= $1 AND updated_at <= $2
		AND (updated_at <= $3 OR 2 * updated_at - created_at <= $1)
		ORDER BY updated_at LIMIT $4`
	ms := now.UnixMilli()
	rows, err := s.db.Read().QueryContext(ctx, q, ms, ms-minAge.Milliseconds(), ms-maxWait.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("due claims: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("due claims: %w", sqldb.Err(err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due claims: %w", sqldb.Err(err))
	}
	return out, nil
}

// CountPending counts the pending claims made at or before before.
func (s *Store) CountPending(ctx context.Context, before time.Time) (int, error) {
	const q = `SELECT count(*) FROM payments WHERE status = 'pending' AND created_at <= $1`
	var n int
	if err := s.db.Read().QueryRowContext(ctx, q, before.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending: %w", sqldb.Err(err))
	}
	return n, nil
}

// PendingOf says whether the order has a pending claim (read outside any
// transaction: a cheap look before taking one).
func (s *Store) PendingOf(ctx context.Context, orderID string) (bool, error) {
	const q = `SELECT count(*) FROM payments WHERE order_id = $1 AND status = 'pending'`
	var n int
	if err := s.db.Read().QueryRowContext(ctx, q, orderID).Scan(&n); err != nil {
		return false, fmt.Errorf("pending of order: %w", sqldb.Err(err))
	}
	return n > 0, nil
}

// InsertTxn writes a balanced ledger transaction inside tx, beside the
// change it records. An unbalanced one is refused before any SQL; one
// already written (the same id, or a second charge or refund of the same
// order) is sqldb.ErrConflict.
func (s *Store) InsertTxn(ctx context.Context, tx *sqldb.Tx, t Txn) error {
	if err := t.check(); err != nil {
		return err
	}
	const q = `INSERT INTO ledger_transactions (id, kind, order_id, payment_id, created_at)
		VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.ExecContext(ctx, q, t.ID, t.Kind, t.OrderID, t.PaymentID, unixMilli(t.CreatedAt)); err != nil {
		return fmt.Errorf("insert ledger transaction: %w", sqldb.Err(err))
	}
	const qe = `INSERT INTO ledger_entries (transaction_id, line, account, amount) VALUES ($1, $2, $3, $4)`
	for i, e := range t.Entries {
		if _, err := tx.ExecContext(ctx, qe, t.ID, i+1, e.Account, int64(e.Amount)); err != nil {
			return fmt.Errorf("insert ledger entry: %w", sqldb.Err(err))
		}
	}
	return nil
}

// TxnInTx reads a ledger transaction with its entries inside tx.
func (s *Store) TxnInTx(ctx context.Context, tx *sqldb.Tx, id string) (Txn, error) {
	var (
		t       Txn
		created int64
	)
	const q = `SELECT id, kind, order_id, payment_id, created_at FROM ledger_transactions WHERE id = $1`
	if err := tx.QueryRowContext(ctx, q, id).Scan(&t.ID, &t.Kind, &t.OrderID, &t.PaymentID, &created); err != nil {
		return Txn{}, fmt.Errorf("ledger transaction %s: %w", id, sqldb.Err(err))
	}
	t.CreatedAt = time.UnixMilli(created).UTC()
	const qe = `SELECT account, amount FROM ledger_entries WHERE transaction_id = $1 ORDER BY line`
	rows, err := tx.QueryContext(ctx, qe, id)
	if err != nil {
		return Txn{}, fmt.Errorf("ledger entries %s: %w", id, sqldb.Err(err))
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Account, &e.Amount); err != nil {
			return Txn{}, fmt.Errorf("ledger entries %s: %w", id, sqldb.Err(err))
		}
		t.Entries = append(t.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Txn{}, fmt.Errorf("ledger entries %s: %w", id, sqldb.Err(err))
	}
	return t, nil
}

const accountColumns = `user_id, provider, account_id, status, return_url, refresh_url, created_at, updated_at`

// QueryAccount reads userID's payout account.
func (s *Store) QueryAccount(ctx context.Context, userID string) (Account, error) {
	var (
		a                Account
		created, updated int64
	)
	err := s.db.Read().QueryRowContext(ctx, `SELECT `+accountColumns+` FROM payout_accounts WHERE user_id = $1`, userID).
		Scan(&a.UserID, &a.Provider, &a.AccountID, &a.Status, &a.ReturnURL, &a.RefreshURL, &created, &updated)
	if err != nil {
		return Account{}, fmt.Errorf("query payout account: %w", sqldb.Err(err))
	}
	a.CreatedAt, a.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return a, nil
}

// InsertAccount stores a payout account; a second one of the same user
// (or the same provider account) is sqldb.ErrConflict.
func (s *Store) InsertAccount(ctx context.Context, tx *sqldb.Tx, a Account) error {
	const q = `INSERT INTO payout_accounts (` + accountColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := tx.ExecContext(ctx, q, a.UserID, a.Provider, a.AccountID, a.Status, a.ReturnURL, a.RefreshURL,
		unixMilli(a.CreatedAt), unixMilli(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert payout account: %w", sqldb.Err(err))
	}
	return nil
}

// SetAccountStatus sets the status of the payout account with the
// provider's id accountID (no row: nothing to do).
func (s *Store) SetAccountStatus(ctx context.Context, tx *sqldb.Tx, accountID, status string, now time.Time) error {
	const q = `UPDATE payout_accounts SET status = $1, updated_at = $2 WHERE account_id = $3 AND status <> $1`
	if _, err := tx.ExecContext(ctx, q, status, now.UnixMilli(), accountID); err != nil {
		return fmt.Errorf("set payout account status: %w", sqldb.Err(err))
	}
	return nil
}

// affected turns the result of an exec that changes at most one row (by
// its key, often with a compare-and-set) into whether it changed it.
func affected(res sql.Result, err error, op string) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, sqldb.Err(err))
	}
	return n > 0, nil
}

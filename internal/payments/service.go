// Package payments is the payments service: it charges buyers for their
// orders and owns the payments, beside a replica of the orders it may
// charge for.
//
// It serves POST /api/payments, keeps its order replica up to date from
// order.created and order.cancelled, refunds on order.refund_requested, and
// publishes payment.created through the outbox in the same transaction that
// records the charge (payment.refunded in the one that records a refund).
// Stripe's webhook (POST /api/payments/webhook, webhook.go) settles
// charges whose outcome was unknown and records disputes
// (payment.disputed).
//
// A payment never charges twice. The payments table allows one row per
// order: a request first claims the order in a short transaction (a
// 'pending' row with an idempotency key and a lease), then charges outside
// any transaction, then records the outcome. A concurrent request meets
// the claim and is refused; a claim left behind by a crash or an unknown
// outcome is taken over by the next request, which replays the very same
// charge and key, so the provider returns the first result instead of
// charging again. A declined claim is deleted, so the order stays payable.
// The buyer may never come back: the reconciler (reconcile.go) replays a
// claim left pending, and does so at once when its order is cancelled.
package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

const (
	// chargeTimeout bounds one call to the provider.
	chargeTimeout = 45 * time.Second
	// claimLease keeps other requests off a claim while its charge may be
	// in flight; longer than chargeTimeout, so a claim is only taken over
	// once its charge has certainly ended.
	claimLease = 2 * time.Minute
)

// errPaymentPending is a refund request for a payment whose charge was
// never recorded: it was never announced, so orders cannot have asked.
var errPaymentPending = errors.New("payment is still pending")

// Config tunes the service.
type Config struct {
	// Provider charges and refunds; default the sandbox.
	Provider Provider
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ReconcileEvery is how often the reconciler looks for claims left
	// pending with an unknown outcome; default 30 s.
	ReconcileEvery time.Duration
	// ReconcileAfter is how long after a claim's last attempt the
	// reconciler replays it; default the claim lease, so a buyer retrying
	// after a 503 goes first.
	ReconcileAfter time.Duration
	// PayoutHold is how long proceeds are held after their event's end
	// (a free-form listing's: after its sale) before they are due;
	// default DefaultPayoutHold.
	PayoutHold time.Duration
	// WebhookSecret is the signing secret of Stripe's webhook endpoint
	// (whsec_...); empty turns POST /api/payments/webhook off (404).
	WebhookSecret string
}

// Service holds the payments use cases.
type Service struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	log   *slog.Logger
	cfg   Config
	// js keeps the payout schedules (schedule.go); nil until
	// EnablePayoutSchedules.
	js jetstream.JetStream
}

// New returns the service over db (opened with Migrations and
// outbox.Migrations), publishing through ob.
func New(db *sqldb.DB, ob *outbox.Outbox, log *slog.Logger, cfg Config) *Service {
	if cfg.Provider == nil {
		cfg.Provider = NewSandbox()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 30 * time.Second
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = claimLease
	}
	if cfg.PayoutHold <= 0 {
		cfg.PayoutHold = DefaultPayoutHold
	}
	return &Service{db: db, store: NewStore(db), ob: ob, log: log, cfg: cfg}
}

// claim is a pending payment this request may charge.
type claim struct {
	Payment
	// takeover: the claim was left by an earlier request (a crash or an
	// unknown outcome); its charge is replayed, not the caller's.
	takeover bool
}

// errStaleRefused means a taken-over claim turned out refused: the order
// is payable again, with the caller's own token.
var errStaleRefused = errors.New("earlier attempt was refused")

// Pay charges userID the price of orderID with the card token and returns
// the payment.
func (s *Service) Pay(ctx context.Context, userID, orderID, token string) (Payment, error) {
	if !ids.Valid(orderID) {
		return Payment{}, fmt.Errorf("pay: %w", ErrOrderNotFound)
	}
	// At most twice: a claim taken over from an earlier attempt that turns
	// out declined leaves the order payable, and the caller's own card is
	// tried next.
	for range 2 {
		c, err := s.claim(ctx, userID, orderID, token)
		if err != nil {
			return Payment{}, fmt.Errorf("pay: %w", err)
		}
		p, err := s.charge(context.WithoutCancel(ctx), c)
		if errors.Is(err, errStaleRefused) {
			continue
		}
		if err != nil {
			return Payment{}, fmt.Errorf("pay: %w", err)
		}
		return p, nil
	}
	return Payment{}, fmt.Errorf("pay: %w", ErrInProgress)
}

// claim checks the order and takes the right to charge it, in one short
// transaction: the order row (locked on PostgreSQL) and UNIQUE (order_id)
// make sure one request at a time holds it.
func (s *Service) claim(ctx context.Context, userID, orderID, token string) (claim, error) {
	var c claim
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		now := s.cfg.Now()
		o, err := s.store.OrderForUpdate(ctx, tx, orderID)
		if errors.Is(err, sqldb.ErrNotFound) {
			return ErrOrderNotFound
		}
		if err != nil {
			return err
		}
		// A paid order is reported as paid even once its window has run out.
		p, err := s.store.PaymentByOrder(ctx, tx, orderID)
		switch {
		case errors.Is(err, sqldb.ErrNotFound):
		case err != nil:
			return err
		case o.UserID != userID:
			return ErrNotOwner
		case p.Status != StatusPending:
			return ErrAlreadyPaid
		case now.Before(p.ClaimedUntil):
			return ErrInProgress
		default:
			// Left by a crash or an unknown outcome: replay it.
			until := now.Add(claimLease)
			ok, err := s.store.Lease(ctx, tx, p.ID, p.ClaimedUntil, until, now)
			if err != nil {
				return err
			}
			if !ok {
				return ErrInProgress
			}
			p.ClaimedUntil = until
			c = claim{Payment: p, takeover: true}
			return nil
		}
		if err := o.CheckPayable(userID, now); err != nil {
			return err
		}
		o.Attempts++
		if err := s.store.SetAttempts(ctx, tx, o.ID, o.Attempts); err != nil {
			return err
		}
		c = claim{Payment: newClaim(o, token, o.Attempts, now, claimLease)}
		if err := s.store.InsertPayment(ctx, tx, c.Payment); err != nil {
			if errors.Is(err, sqldb.ErrConflict) {
				return ErrInProgress
			}
			return err
		}
		return nil
	})
	if err != nil {
		return claim{}, fmt.Errorf("claim: %w", err)
	}
	return c, nil
}

// charge charges a claim and records the outcome. Pay runs the charge to
// the end even if its caller goes away (a charge abandoned half way is an
// outcome nobody knows, and the buyer's answer would be a 503); the
// reconciler lets a shutdown cut it short, keeping the claim for its next
// round. Recording the outcome always runs to the end.
func (s *Service) charge(ctx context.Context, c claim) (Payment, error) {
	cctx, cancel := context.WithTimeout(ctx, chargeTimeout)
	res, err := s.cfg.Provider.Charge(cctx, ChargeRequest{
		Amount:         c.Amount,
		Currency:       Currency,
		Token:          c.Token,
		IdempotencyKey: c.IdempotencyKey,
		OrderID:        c.OrderID,
	})
	cancel()
	ctx = context.WithoutCancel(ctx)
	var fe *fault.Error
	switch {
	case err == nil:
		return s.succeed(ctx, c.Payment, res.ID)
	case errors.As(err, &fe) && (fe.Kind == fault.Declined || fe.Kind == fault.Invalid):
		// Nothing was charged: free the order for another card.
		if derr := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			return s.store.DeletePending(ctx, tx, c.ID)
		}); derr != nil {
			return Payment{}, fmt.Errorf("charge refused (%w), then: %w", err, derr)
		}
		if c.takeover {
			return Payment{}, errStaleRefused
		}
		return Payment{}, err
	}
	// Unknown outcome: keep the claim, so the next attempt replays the same
	// key and learns it, but release the lease, so that attempt need not
	// wait for it to run out.
	s.log.Warn("charge failed", "provider", s.cfg.Provider.Name(), "order_id", c.OrderID,
		"payment_id", c.ID, "err", err)
	if lerr := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.Lease(ctx, tx, c.ID, c.ClaimedUntil, time.Time{}, s.cfg.Now())
		return err
	}); lerr != nil {
		s.log.Warn("release claim", "payment_id", c.ID, "err", lerr)
	}
	return Payment{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
}

// succeed records a successful charge and announces it, in one
// transaction.
func (s *Service) succeed(ctx context.Context, p Payment, stripeID string) (Payment, error) {
	p.Status, p.StripeID, p.UpdatedAt, p.ClaimedUntil = StatusSucceeded, stripeID, s.cfg.Now(), time.Time{}
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.store.SetStatus(ctx, tx, p, StatusPending)
		if err != nil {
			return err
		}
		if !ok {
			// Someone took the claim over and replayed the same key: the
			// same charge, recorded (and announced) already.
			got, err := s.store.PaymentByOrder(ctx, tx, p.OrderID)
			if err != nil {
				return err
			}
			if got.ID != p.ID || got.Status == StatusPending {
				return fmt.Errorf("payment %s of order %s: claim lost while charging", p.ID, p.OrderID)
			}
			p = got
			return nil
		}
		// The charge's ledger transaction commits with the payment's
		// status, or neither does.
		o, err := s.store.OrderForUpdate(ctx, tx, p.OrderID)
		if err != nil {
			return err
		}
		if err := s.store.InsertTxn(ctx, tx, ChargeTxn(p, o, p.UpdatedAt)); err != nil {
			return err
		}
		return s.ob.Add(ctx, tx, p.Created())
	})
	if err != nil {
		// The money moved: say so loudly, the claim keeps the key for the
		// next attempt to replay.
		s.log.Error("record charge", "order_id", p.OrderID, "payment_id", p.ID, "stripe_id", stripeID, "err", err)
		return Payment{}, fmt.Errorf("record charge: %w", err)
	}
	return p, nil
}

// AddOrder adds a new order to the replica; adding it again is a no-op.
func (s *Service) AddOrder(ctx context.Context, o Order) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.InsertOrder(ctx, tx, o)
	})
	if err != nil {
		return fmt.Errorf("add order: %w", err)
	}
	return nil
}

// CancelOrder applies the cancellation of an order at version by the
// replica rule (replica.Apply): one already applied is a no-op; one that
// arrives early (or before its order) is an error wrapping
// replica.ErrBehind, which the bus redelivers later by itself.
func (s *Service) CancelOrder(ctx context.Context, id string, version int64) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.ApplyOrderStatus(ctx, tx, id, events.StatusCancelled, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("cancel order: %w", err)
	}
	return nil
}

// CompleteOrder applies the completion of an order at version by the
// replica rule, as CancelOrder does.
func (s *Service) CompleteOrder(ctx context.Context, id string, version int64) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.ApplyOrderStatus(ctx, tx, id, events.StatusComplete, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete order: %w", err)
	}
	return nil
}

// Order returns the replica of an order.
func (s *Service) Order(ctx context.Context, id string) (Order, error) {
	if !ids.Valid(id) {
		return Order{}, ErrOrderNotFound
	}
	o, err := s.store.QueryOrder(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Order{}, ErrOrderNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("order: %w", err)
	}
	return o, nil
}

// Payment returns a payment by id.
func (s *Service) Payment(ctx context.Context, id string) (Payment, error) {
	if !ids.Valid(id) {
		return Payment{}, ErrPaymentNotFound
	}
	p, err := s.store.QueryPayment(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Payment{}, ErrPaymentNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("payment: %w", err)
	}
	return p, nil
}

// Refund gives back the payment paymentID (orders asks for it when the
// payment reached an order already cancelled). The provider refunds under
// the key RefundID(paymentID), so a refund requested twice, or replayed
// after a crash, refunds once.
func (s *Service) Refund(ctx context.Context, paymentID string) error {
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	switch p.Status {
	case StatusRefunded:
		return nil // done before
	case StatusPending:
		return fmt.Errorf("refund: payment %s: %w", p.ID, errPaymentPending)
	}
	err = s.cfg.Provider.Refund(ctx, RefundRequest{ChargeID: p.StripeID, IdempotencyKey: RefundID(p.ID)})
	var fe *fault.Error
	switch {
	case err == nil, errors.Is(err, ErrAlreadyRefunded):
	case errors.As(err, &fe) && (fe.Kind == fault.Declined || fe.Kind == fault.Invalid):
		return fmt.Errorf("refund %s: %w", p.ID, err)
	default:
		// The provider did not answer (network, 5xx, 429): an outage,
		// which the bus waits out without using up the message's
		// deliveries; the replay uses the same key, so it refunds once.
		return fmt.Errorf("refund %s: %w: %w", p.ID, ErrProviderUnavailable, err)
	}
	p.Status, p.UpdatedAt = StatusRefunded, s.cfg.Now()
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		// The order's row lock makes this and a payout's record take
		// turns (payout.go), so exactly one of them sees the other.
		if _, err := s.store.OrderForUpdate(ctx, tx, p.OrderID); err != nil {
			return err
		}
		ok, err := s.store.SetStatus(ctx, tx, p, StatusSucceeded)
		if err != nil || !ok {
			return err // !ok: refunded (and recorded) by another delivery
		}
		// The refund's ledger transaction reverses the charge's, in the
		// same transaction as the status; a payout made already makes the
		// payee's part the platform's loss.
		charge, err := s.store.TxnInTx(ctx, tx, ChargeTxnID(p.ID))
		if err != nil {
			return err
		}
		paidOut, err := s.store.TxnExists(ctx, tx, PayoutID(p.OrderID))
		if err != nil {
			return err
		}
		if err := s.store.InsertTxn(ctx, tx, RefundTxn(charge, paidOut, p.UpdatedAt)); err != nil {
			return err
		}
		// And orders hears it is done (payment.refunded), once: only the
		// delivery that moved the status gets here.
		return s.ob.Add(ctx, tx, p.Refunded())
	})
	if err != nil {
		return fmt.Errorf("record refund %s: %w", p.ID, err)
	}
	return nil
}

package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// The reconciler resolves claims left pending: a charge that timed out or
// met a 5xx (the buyer got a 503 and may never retry), or one whose process
// died. It replays the stored request under the stored idempotency key, so
// the provider tells what became of the first charge without charging
// again: charged → recorded and payment.created (orders completes the
// order, or has a cancelled order's payment refunded); refused → the claim
// is deleted and the order stays payable; still unknown → tried again
// later, each wait as long as the claim has lived (capped).
//
// Replicas may reconcile at once: a replay takes the claim's lease first,
// as a buyer's retry does, so one of them replays a claim at a time, and
// never while a buyer's charge holds it.

const (
	// reconcileMaxWait caps the wait between two replays of one claim.
	reconcileMaxWait = time.Hour
	// replayWindow is how long after its claim a charge may be replayed.
	// Stripe keeps an idempotency key for at least 24 hours; a replay once
	// the key is gone would charge anew instead of reporting the first
	// charge.
	replayWindow = 23 * time.Hour
	// reconcileBatch bounds the claims one round looks at.
	reconcileBatch = 100
)

// resolution is what one replay did.
type resolution int

const (
	resolvedNothing resolution = iota // not replayed: held, no longer pending, not due
	resolvedCharged
	resolvedRefused
	resolvedUnknown
)

// RunReconciler runs a reconciliation round at once and then every
// ReconcileEvery, until ctx ends; a charge in flight at that moment is cut
// short and its claim kept.
func (s *Service) RunReconciler(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile replays the claims that are due, oldest attempt first. It
// stops at the first outcome still unknown: the provider is failing, and
// the other claims would only wait for it too.
func (s *Service) Reconcile(ctx context.Context) error {
	due, err := s.store.DueClaims(ctx, s.cfg.Now(), s.cfg.ReconcileAfter, reconcileMaxWait, reconcileBatch)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	for _, p := range due {
		if ctx.Err() != nil {
			return nil
		}
		r, err := s.resolve(ctx, p.OrderID, false)
		if err != nil {
			return fmt.Errorf("reconcile order %s: %w", p.OrderID, err)
		}
		if r == resolvedUnknown {
			return nil
		}
	}
	return nil
}

// reconcileCancelled replays the pending claim of an order just cancelled,
// if nobody holds it, without waiting for its turn: money taken for a
// cancelled order goes back at once. A failure is logged and left to the
// rounds, which retry it.
func (s *Service) reconcileCancelled(ctx context.Context, orderID string) {
	pending, err := s.store.PendingOf(ctx, orderID)
	if err == nil && pending {
		_, err = s.resolve(ctx, orderID, true)
	}
	if err != nil {
		s.log.Warn("reconcile cancelled order", "order_id", orderID, "err", err)
	}
}

// resolve replays the pending claim of orderID if nobody holds it and it
// is due (or now is true).
func (s *Service) resolve(ctx context.Context, orderID string, now bool) (resolution, error) {
	var (
		c     claim
		stale string // the key of a claim too old to replay
	)
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		at := s.cfg.Now()
		p, err := s.store.PaymentByOrder(ctx, tx, orderID)
		switch {
		case errors.Is(err, sqldb.ErrNotFound):
			return nil
		case err != nil:
			return err
		case p.Status != StatusPending || at.Before(p.ClaimedUntil) || !now && !s.due(p, at):
			return nil
		case at.Sub(p.CreatedAt) >= replayWindow:
			// Touch it, so it is reported once per reconcileMaxWait.
			stale = p.IdempotencyKey
			_, err := s.store.Lease(ctx, tx, p.ID, p.ClaimedUntil, time.Time{}, at)
			return err
		}
		until := at.Add(claimLease)
		ok, err := s.store.Lease(ctx, tx, p.ID, p.ClaimedUntil, until, at)
		if err != nil || !ok {
			return err
		}
		p.ClaimedUntil = until
		c = claim{Payment: p, takeover: true}
		return nil
	})
	if err != nil {
		return resolvedNothing, fmt.Errorf("take claim: %w", err)
	}
	if stale != "" {
		s.log.Error("pending claim too old to replay: find its charge by order_id in the provider's dashboard",
			"order_id", orderID, "idempotency_key", stale)
		return resolvedNothing, nil
	}
	if c.ID == "" {
		return resolvedNothing, nil
	}
	age := s.cfg.Now().Sub(c.CreatedAt)
	_, err = s.charge(ctx, c)
	switch {
	case err == nil:
		s.log.Info("pending claim charged", "order_id", orderID, "payment_id", c.ID, "age", age)
		return resolvedCharged, nil
	case errors.Is(err, errStaleRefused):
		s.log.Info("pending claim refused: order payable again", "order_id", orderID, "payment_id", c.ID, "age", age)
		return resolvedRefused, nil
	case errors.Is(err, ErrProviderUnavailable):
		// charge logged it; the next try waits as long as the claim has lived.
		return resolvedUnknown, nil
	}
	return resolvedNothing, err
}

// due says whether a claim's last attempt is far enough behind at now:
// by ReconcileAfter, and by as long as the claim had lived by then, capped
// at reconcileMaxWait (the same rule as the store's DueClaims).
func (s *Service) due(p Payment, now time.Time) bool {
	wait := max(s.cfg.ReconcileAfter, min(p.UpdatedAt.Sub(p.CreatedAt), reconcileMaxWait))
	return !now.Before(p.UpdatedAt.Add(wait))
}

// PendingClaims counts the claims still pending ReconcileAfter after they
// were made: charges whose outcome is unknown. For a gauge.
func (s *Service) PendingClaims(ctx context.Context) (int, error) {
	n, err := s.store.CountPending(ctx, s.cfg.Now().Add(-s.cfg.ReconcileAfter))
	if err != nil {
		return 0, fmt.Errorf("pending claims: %w", err)
	}
	return n, nil
}

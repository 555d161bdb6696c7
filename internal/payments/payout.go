package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"golang.org/x/sync/errgroup"
)

// Payouts (DESIGN.md section 9.4): an order's proceeds, its price, go to
// its payee's payout account once its event has ended plus PAYOUT_HOLD (a
// free-form listing's: its sale plus the hold), once, as a transfer whose
// source is the order's charge and whose group is the order id.
//
// A run pays what is due in batches. It claims a batch in one transaction
// (a 'pending' payouts row per order, with a lease), transfers each
// outside any transaction under the idempotency key PayoutID(order id),
// and records each transfer in the transaction that writes the ledger's
// payout. A run cut short anywhere (the process killed, the provider or
// the database gone) leaves rows pending; the next run replays them under
// the same key once their lease is over, so the provider returns the
// first transfer instead of paying again, and the record's compare-and-set
// lets one replay write the ledger. Runs are started by payout.due
// (listeners.go, schedule.go).
//
// Not paid out: a disputed order (the dispute freezes it), an order of a
// cancelled event (it is refunded instead), a refunded payment, and a
// payee without an enabled payout account (the proceeds wait in their
// balance until they connect one; the sweep pays them then).

// Payer transfers proceeds to payout accounts. The sandbox and the Stripe
// provider implement it.
//
// Errors are as Provider's: a *fault.Error of kind Invalid means nothing
// moved (the account cannot be paid); anything else leaves the outcome
// unknown, to be replayed under the same key.
type Payer interface {
	Transfer(ctx context.Context, req TransferRequest) (Transfer, error)
	// FindTransfer looks up the transfer of a transfer group (an order):
	// found is false when the provider made none. A run asks before it
	// replays a payout it should no longer make (the order disputed,
	// refunded or its event cancelled since the claim), or one claimed so
	// long ago that the provider may have forgotten its key.
	FindTransfer(ctx context.Context, group string) (t Transfer, found bool, err error)
}

// TransferRequest is one payout.
type TransferRequest struct {
	Amount   money.Cents
	Currency string
	// Destination is the payee's payout account at the provider.
	Destination string
	// ChargeID is the provider's id of the order's charge (the payment's
	// stripe id), the transfer's source: Stripe pays it out of that
	// charge's funds once they are available.
	ChargeID string
	// TransferGroup is the order id: the charge and its payout together.
	TransferGroup  string
	IdempotencyKey string
}

// Transfer is a payout the provider made.
type Transfer struct {
	ID string
}

const (
	// payoutBatch is how many payouts one claim takes.
	payoutBatch = 200
	// payoutParallel bounds the transfers in flight at once (each is one
	// request to the provider, ~0.3 s at Stripe).
	payoutParallel = 8
	// payoutLease keeps other runs off a claimed payout while its
	// transfer may be in flight.
	payoutLease = 2 * time.Minute
)

// Payout is one order's payout.
type Payout struct {
	OrderID, PaymentID string
	PayeeID            string
	// Account is the ledger's payable the payout debits.
	Account     string
	Destination string
	ChargeID    string
	Amount      money.Cents
	// Status is "pending" or "paid".
	Status         string
	IdempotencyKey string
	TransferID     string
	ClaimedUntil   time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Stopped (read with a pending payout, not stored): the order should
	// no longer be paid out.
	Stopped bool
}

// The states of a payout.
const (
	PayoutPending = "pending"
	PayoutPaid    = "paid"
)

// MaxPayoutsPage is the most payouts one page of a payee's list holds
// (GET /api/payments/payouts).
const MaxPayoutsPage = 100

// ErrBadPayoutCursor is an after= that no order id looks like.
var ErrBadPayoutCursor = &fault.Error{Kind: fault.Invalid, Field: "after",
	Message: "after must be the cursor of the previous page (its last payout's order id)"}

// PayoutsOf returns up to limit payouts of payeeID (MaxPayoutsPage when
// limit is not positive), newest first, after the payout of the order
// after ("" from the newest).
func (s *Service) PayoutsOf(ctx context.Context, payeeID, after string, limit int) ([]Payout, error) {
	if after != "" && !ids.Valid(after) {
		return nil, ErrBadPayoutCursor
	}
	if limit < 1 {
		limit = MaxPayoutsPage
	}
	ps, err := s.store.PayoutsOf(ctx, payeeID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("payouts of %s: %w", payeeID, err)
	}
	return ps, nil
}

// PayoutRun is what one run did.
type PayoutRun struct {
	// Paid is the payouts this run recorded, Amount their sum.
	Paid   int
	Amount money.Cents
	// Refused is the payouts the provider refused (nothing moved; they
	// stay due for a later run).
	Refused int
	// Stopped is the pending payouts dropped because their order should
	// no longer be paid and the provider made no transfer for it.
	Stopped int
}

// errPayer: the provider in use makes no transfers.
var errPayer = errors.New("the payment provider makes no payouts")

// RunPayouts pays out what is due of the event eventID, or of every sale
// when eventID is "": first it replays the payouts runs before it left
// pending, then claims and pays the due ones, a batch at a time. It stops
// at the first transfer whose outcome is unknown (the provider is out of
// reach: the next run carries on) and when ctx ends.
func (s *Service) RunPayouts(ctx context.Context, eventID string) (PayoutRun, error) {
	var run PayoutRun
	payer, ok := s.cfg.Provider.(Payer)
	if !ok {
		return run, errPayer
	}
	// Each replayed row leaves the pending ones whose lease is over (paid,
	// refused and deleted, or leased again), so this ends.
	for {
		now := s.cfg.Now()
		pending, err := s.store.PendingPayouts(ctx, eventID, now, payoutBatch)
		if err != nil {
			return run, fmt.Errorf("payouts: %w", err)
		}
		if len(pending) == 0 {
			break
		}
		if pending, err = s.leasePayouts(ctx, pending); err != nil {
			return run, fmt.Errorf("payouts: %w", err)
		}
		if err := s.payBatch(ctx, payer, pending, &run); err != nil {
			return run, err
		}
	}
	after := ""
	for {
		now := s.cfg.Now()
		due, err := s.store.DuePayouts(ctx, eventID, now, s.cfg.PayoutHold, after, payoutBatch)
		if err != nil {
			return run, fmt.Errorf("payouts: %w", err)
		}
		if len(due) == 0 {
			return run, nil
		}
		after = due[len(due)-1].OrderID
		var claimed []Payout
		err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			claimed = claimed[:0]
			for _, p := range due {
				p.Status, p.IdempotencyKey = PayoutPending, PayoutID(p.OrderID)
				p.ClaimedUntil, p.CreatedAt, p.UpdatedAt = now.Add(payoutLease), now, now
				ok, err := s.store.ClaimPayout(ctx, tx, p)
				if err != nil {
					return err
				}
				if ok {
					claimed = append(claimed, p)
				}
			}
			return nil
		})
		if err != nil {
			return run, fmt.Errorf("claim payouts: %w", err)
		}
		if err := s.payBatch(ctx, payer, claimed, &run); err != nil {
			return run, err
		}
	}
}

// ReleasePayoutLeases ends the lease of every pending payout, so the
// first run replays them at once instead of after payoutLease. Only the
// sole process of a database may call it, at start, before any run: a
// SQLite file (`up` holds its data dir's lock; `serve` on SQLite runs one
// replica), where a lease still held can only be a process's that died
// in its run, whose transfers are no longer in flight (the replay's key
// gets the first transfer back either way). Where replicas share a
// database it would take a live run's payouts (paid once still, but
// requested twice). n is how many it released.
func (s *Service) ReleasePayoutLeases(ctx context.Context) (n int64, err error) {
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		n, err = s.store.ReleasePayoutLeases(ctx, tx)
		return err
	})
	return n, err
}

// leasePayouts takes the lease of pending payouts another run left, in
// one transaction; those another run took first are dropped.
func (s *Service) leasePayouts(ctx context.Context, ps []Payout) ([]Payout, error) {
	var out []Payout
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		out = out[:0]
		now := s.cfg.Now()
		for _, p := range ps {
			until := now.Add(payoutLease)
			ok, err := s.store.LeasePayout(ctx, tx, p.OrderID, p.ClaimedUntil, until)
			if err != nil {
				return err
			}
			if ok {
				p.ClaimedUntil = until
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// payBatch transfers and records claimed payouts, a few at once. It
// returns the first outcome that is unknown; the others of the batch
// still finish (their transfers are in flight), so little is left for a
// replay.
func (s *Service) payBatch(ctx context.Context, payer Payer, ps []Payout, run *PayoutRun) error {
	var (
		mu sync.Mutex
		g  errgroup.Group
	)
	g.SetLimit(payoutParallel)
	for _, p := range ps {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			paid, stopped, err := s.payOne(ctx, payer, p)
			mu.Lock()
			defer mu.Unlock()
			var fe *fault.Error
			switch {
			case err == nil:
				if paid {
					run.Paid++
					run.Amount += p.Amount
				}
				if stopped {
					run.Stopped++
				}
				return nil
			case errors.As(err, &fe) && fe.Kind == fault.Invalid:
				run.Refused++
				return nil
			}
			return err
		})
	}
	return g.Wait()
}

// payOne transfers one claimed payout and records it; paid is false when
// another run recorded it first. A transfer the provider refuses moved
// nothing: its claim is deleted, so a later run tries it again (the
// account may be fixed by then), and the refusal is returned. An unknown
// outcome keeps the claim for a replay.
//
// A pending payout that should no longer be made (Stopped), or one
// claimed more than replayWindow ago, is first looked up at the provider
// by its group: a transfer found is recorded (the money moved; a refund
// since is the platform's loss); none found drops a stopped claim
// (stopped is true) and lets a stale one be made now, its key forgotten
// or not, since nothing was paid under it.
func (s *Service) payOne(ctx context.Context, payer Payer, p Payout) (paid, stopped bool, err error) {
	tctx, cancel := context.WithTimeout(ctx, chargeTimeout)
	defer cancel()
	if p.Stopped || s.cfg.Now().Sub(p.CreatedAt) > replayWindow {
		t, found, err := payer.FindTransfer(tctx, p.OrderID)
		switch {
		case err != nil:
			s.log.Warn("payout lookup failed", "order_id", p.OrderID, "err", err)
			return false, false, fmt.Errorf("payout of order %s: %w: %w", p.OrderID, ErrProviderUnavailable, err)
		case found:
			paid, err := s.recordPayout(ctx, p, t)
			return paid, false, err
		case p.Stopped:
			s.log.Warn("payout stopped", "order_id", p.OrderID, "payee_id", p.PayeeID)
			if err := s.dropPayout(ctx, p.OrderID); err != nil {
				return false, false, err
			}
			return false, true, nil
		}
	}
	t, err := payer.Transfer(tctx, TransferRequest{
		Amount: p.Amount, Currency: Currency, Destination: p.Destination, ChargeID: p.ChargeID,
		TransferGroup: p.OrderID, IdempotencyKey: p.IdempotencyKey,
	})
	var fe *fault.Error
	switch {
	case err == nil:
	case errors.As(err, &fe) && fe.Kind == fault.Invalid:
		s.log.Warn("payout refused", "order_id", p.OrderID, "payee_id", p.PayeeID, "destination", p.Destination, "err", err)
		if derr := s.dropPayout(ctx, p.OrderID); derr != nil {
			return false, false, fmt.Errorf("payout of order %s refused (%w), then: %w", p.OrderID, err, derr)
		}
		return false, false, err
	default:
		s.log.Warn("payout failed", "order_id", p.OrderID, "payee_id", p.PayeeID, "err", err)
		return false, false, fmt.Errorf("payout of order %s: %w: %w", p.OrderID, ErrProviderUnavailable, err)
	}
	paid, err = s.recordPayout(ctx, p, t)
	return paid, false, err
}

// dropPayout deletes a pending payout under which nothing moved, to the
// end whatever happens to the run.
func (s *Service) dropPayout(ctx context.Context, orderID string) error {
	ctx = context.WithoutCancel(ctx)
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.DeletePendingPayout(ctx, tx, orderID)
	})
	if err != nil {
		return fmt.Errorf("drop payout of order %s: %w", orderID, err)
	}
	return nil
}

// recordPayout records the transfer t of a pending payout with its ledger
// payout, in one transaction; paid is false when another run recorded it
// first. It runs to the end whatever happens to the run: the money moved.
func (s *Service) recordPayout(ctx context.Context, p Payout, t Transfer) (paid bool, err error) {
	ctx = context.WithoutCancel(ctx)
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		// The order's row lock: a refund's record takes turns with this,
		// so exactly one of them sees the other (service.go's Refund).
		if _, err := s.store.OrderForUpdate(ctx, tx, p.OrderID); err != nil {
			return err
		}
		now := s.cfg.Now()
		ok, err := s.store.SetPayoutPaid(ctx, tx, p.OrderID, t.ID, now)
		if err != nil || !ok {
			paid = false
			return err // !ok: a replay of another run recorded it
		}
		refunded, err := s.store.TxnExists(ctx, tx, RefundID(p.PaymentID))
		if err != nil {
			return err
		}
		paid = true
		return s.store.InsertTxn(ctx, tx, PayoutTxn(p.OrderID, p.PaymentID, p.Account, p.Amount, refunded, now))
	})
	if err != nil {
		s.log.Error("record payout", "order_id", p.OrderID, "transfer_id", t.ID, "err", err)
		return false, fmt.Errorf("record payout of order %s: %w", p.OrderID, err)
	}
	return paid, nil
}

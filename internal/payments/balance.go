package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// DefaultPayoutHold is how long after an event's end (a free-form
// listing's: after its sale) its proceeds are held (PAYOUT_HOLD).
const DefaultPayoutHold = 48 * time.Hour

// Balance is what the platform owes a user for their sales (the payable
// accounts of the ledger, seller's and organizer's together), in cents.
type Balance struct {
	// Held is owed but not yet due: the order's event has not ended plus
	// the hold (or its end is not known yet); a free-form listing's sale
	// is less than the hold ago. A disputed sale, and one of a cancelled
	// event (its refund is on its way), stay held.
	Held money.Cents
	// Available is due and not yet paid out.
	Available money.Cents
	// Paid is what payouts transferred.
	Paid money.Cents
}

// DueAt is when the proceeds of an order become due: its event's end plus
// hold, or for an order of no event (a free-form listing) its sale plus
// hold. The end is endsAt, or startsAt plus events.DefaultEventLength when
// the events part gave none (events.EventEnded's rule). ok is false while
// the event's times are not known.
func DueAt(eventID string, startsAt, endsAt, soldAt time.Time, hold time.Duration) (due time.Time, ok bool) {
	switch {
	case eventID == "":
		return soldAt.Add(hold), true
	case !endsAt.IsZero():
		return endsAt.Add(hold), true
	case !startsAt.IsZero():
		return startsAt.Add(events.DefaultEventLength + hold), true
	}
	return time.Time{}, false
}

// Balance sums userID's payable accounts, per order, into held and
// available by each order's due time at the service's clock, and their
// payouts into paid.
func (s *Service) Balance(ctx context.Context, userID string) (Balance, error) {
	rows, err := s.store.PayableByOrder(ctx, []string{PrefixSellerPayable + userID, PrefixOrganizerPayable + userID})
	if err != nil {
		return Balance{}, fmt.Errorf("balance: %w", err)
	}
	var b Balance
	now := s.cfg.Now()
	for _, r := range rows {
		b.Paid += r.Paid
		if r.Owed == 0 {
			continue
		}
		// A disputed sale is frozen and a cancelled event's is being
		// refunded: neither will be paid out, so neither is available.
		if due, ok := DueAt(r.EventID, r.StartsAt, r.EndsAt, r.SoldAt, s.cfg.PayoutHold); ok && !now.Before(due) && !r.Frozen {
			b.Available += r.Owed
		} else {
			b.Held += r.Owed
		}
	}
	return b, nil
}

// payableRow is one order's part of a user's payable accounts.
type payableRow struct {
	OrderID string
	// Owed is what is still owed (the credits less refunds and payouts),
	// Paid what payouts paid.
	Owed, Paid money.Cents
	SoldAt     time.Time
	EventID    string
	// Frozen: the order is disputed, or its event cancelled.
	Frozen           bool
	StartsAt, EndsAt time.Time
}

// PayableByOrder sums the entries of the accounts per order, with the
// order's charge time and event times.
func (s *Store) PayableByOrder(ctx context.Context, accounts []string) ([]payableRow, error) {
	const q = `SELECT t.order_id,
			-SUM(e.amount),
			SUM(CASE WHEN t.kind = 'payout' THEN e.amount ELSE 0 END),
			MIN(CASE WHEN t.kind = 'charge' THEN t.created_at END),
			COALESCE(MAX(o.event_id), ''), COALESCE(MAX(v.starts_at), 0), COALESCE(MAX(v.ends_at), 0),
			COALESCE(MAX(v.cancelled), 0) + (SELECT count(*) FROM disputes d WHERE d.order_id = t.order_id)
		FROM ledger_entries e
		JOIN ledger_transactions t ON t.id = e.transaction_id
		LEFT JOIN orders o ON o.id = t.order_id
		LEFT JOIN sale_events v ON v.id = o.event_id
		WHERE e.account IN ($1, $2)
		GROUP BY t.order_id`
	rows, err := s.db.Read().QueryContext(ctx, q, accounts[0], accounts[1])
	if err != nil {
		return nil, fmt.Errorf("payable by order: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []payableRow
	for rows.Next() {
		var (
			r                        payableRow
			sold                     *int64
			owed, paid, starts, ends int64
			frozen                   int64
		)
		if err := rows.Scan(&r.OrderID, &owed, &paid, &sold, &r.EventID, &starts, &ends, &frozen); err != nil {
			return nil, fmt.Errorf("payable by order: %w", sqldb.Err(err))
		}
		r.Owed, r.Paid, r.Frozen = money.Cents(owed), money.Cents(paid), frozen > 0
		if sold != nil {
			r.SoldAt = time.UnixMilli(*sold).UTC()
		}
		if starts != 0 {
			r.StartsAt = time.UnixMilli(starts).UTC()
		}
		if ends != 0 {
			r.EndsAt = time.UnixMilli(ends).UTC()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payable by order: %w", sqldb.Err(err))
	}
	return out, nil
}

// ApplyEvent keeps the replica of an event's times and whether it was
// cancelled (sale_events), by which the balance and the payout runs know
// when its orders' proceeds are due: created
// inserts (a redelivery is a no-op), later versions apply by the replica
// rule (replica.Apply; one that came early is redelivered).
func (s *Service) ApplyEvent(ctx context.Context, ev events.EventState, created bool) error {
	var cancelled int64
	if ev.Status == events.EventStatusCancelled {
		cancelled = 1
	}
	set := replica.Set{"starts_at": unixMilli(ev.StartsAt), "ends_at": unixMilli(ev.EndsAt), "cancelled": cancelled}
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if created {
			_, err = replica.Insert(ctx, tx, "sale_events", ev.ID, ev.Version, set)
		} else {
			_, err = replica.Apply(ctx, tx, "sale_events", ev.ID, ev.Version, set)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("event %s v%d: %w", ev.ID, ev.Version, err)
	}
	return nil
}

// onEventCreated, onEventUpdated and onEventCancelled keep the replica of
// each event's times (ApplyEvent). An event id that is not an id names
// nothing an order could hold: terminate.
func (s *Service) onEventCreated(ctx context.Context, ev events.EventCreated) error {
	return s.applyEvent(ctx, "event.created", ev.EventState, true)
}

func (s *Service) onEventUpdated(ctx context.Context, ev events.EventUpdated) error {
	return s.applyEvent(ctx, "event.updated", ev.EventState, false)
}

func (s *Service) onEventCancelled(ctx context.Context, ev events.EventCancelled) error {
	return s.applyEvent(ctx, "event.cancelled", ev.EventState, false)
}

func (s *Service) applyEvent(ctx context.Context, subject string, ev events.EventState, created bool) error {
	if !ids.Valid(ev.ID) {
		return natsbus.Permanent(fmt.Errorf("%s with a bad event id %q", subject, ev.ID))
	}
	if err := s.ApplyEvent(ctx, ev, created); err != nil {
		return err
	}
	// Then the event's payout schedule, from the replica: a redelivery
	// after a failed publish schedules again.
	return s.schedulePayouts(ctx, ev.ID, ev.Version)
}

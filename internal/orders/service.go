// Package orders is the orders service: it owns orders (a buyer's hold on a
// ticket for a limited window) and a replica of the tickets they hold.
//
// It serves /api/orders, keeps its ticket replica up to date from
// ticket.created and ticket.updated, cancels orders on expiration.complete,
// and publishes order.created and order.cancelled, always through the
// outbox in the same transaction as the change.
package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

var (
	// ErrNotFound is an unknown order id.
	ErrNotFound = fault.New(fault.NotFound, "Order not found")
	// ErrNotOwner is an order of someone else.
	ErrNotOwner = fault.New(fault.Unauthorized, "Not authorized")
	// ErrTicketNotFound is a ticket the replica does not hold.
	ErrTicketNotFound = fault.New(fault.NotFound, "Ticket not found")
	// ErrTicketReserved is a ticket held by an active order.
	ErrTicketReserved = fault.Coded(fault.Invalid, "ticket_reserved", "Ticket is already reserved")
	// ErrTicketNotAvailable is a ticket that was sold or withdrawn.
	ErrTicketNotAvailable = fault.Coded(fault.Invalid, "ticket_not_available", "Ticket is no longer available")
	// ErrOwnTicket is a seller ordering their own ticket.
	ErrOwnTicket = fault.Coded(fault.Invalid, "own_ticket", "You cannot order your own ticket")
	// ErrTooManyPending is a user already holding MaxPending unpaid orders.
	ErrTooManyPending = fault.Coded(fault.TooMany, "too_many_pending_orders", "You already hold the most unpaid orders allowed; pay for or cancel one first")
	// ErrTooManyFromAddress is a client address whose accounts together
	// hold MaxPerAddress unpaid orders (one person with many accounts).
	ErrTooManyFromAddress = fault.Coded(fault.TooMany, "too_many_from_address", "Too many tickets are on hold from your network")
	// ErrEventNotFound is an event the replica has no ticket of.
	ErrEventNotFound = fault.New(fault.NotFound, "Event not found")
	// ErrNotOnSaleYet is an issued ticket, or an event, ordered before its
	// on-sale time; the refusal names the time and carries a Retry-After.
	ErrNotOnSaleYet = fault.Coded(fault.Conflict, "not_on_sale_yet", "Tickets are not on sale yet")
	// ErrSoldOut is an event with no free ticket left.
	ErrSoldOut = fault.Coded(fault.Conflict, "sold_out", "The event is sold out")
	// ErrEventCancelled is an event whose tickets left sale with it.
	ErrEventCancelled = fault.Coded(fault.Conflict, "event_cancelled", "The event was cancelled")
	// ErrEventEnded is an event whose end (endsAt) has come: its tickets
	// are no longer sold, though some may be left.
	ErrEventEnded = fault.Coded(fault.Conflict, "event_ended", "The event has ended")
	// ErrOverResaleCap is a resale listing priced above its event's
	// resale cap in force (the organizer lowered it after the listing).
	ErrOverResaleCap = fault.Coded(fault.Conflict, "over_resale_cap", "This resale ticket is priced above the event's resale cap and can no longer be ordered")
	// ErrReleasedRecently is a buyer reserving again a ticket whose order
	// they cancelled, or let expire, less than a window ago.
	ErrReleasedRecently = fault.Coded(fault.TooMany, "released_recently", "You released this ticket a moment ago; try again later")
)

// Defaults for the zero values of Config.
const (
	DefaultWindow               = 15 * time.Minute
	DefaultMaxPending           = 10
	DefaultMaxPendingPerAddress = 30
)

// Config tunes the service. Zero values get the defaults.
type Config struct {
	// Window is how long an order holds its ticket (EXPIRATION_WINDOW).
	Window time.Duration
	// MaxPending is how many unpaid orders one user may hold at once
	// (MAX_PENDING_ORDERS).
	MaxPending int
	// MaxPendingPerAddress is how many unpaid orders the accounts of one
	// client address may hold together (MAX_PENDING_ORDERS_PER_ADDRESS).
	MaxPendingPerAddress int
	// TrustedProxies are the peers whose X-Forwarded-For is believed for
	// the client address (TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// SweepEvery is how often the sweep looks for unpaid orders past their
	// expiry (sweep.go); default DefaultSweepEvery.
	SweepEvery time.Duration
	// SweepGrace is how long past its expiresAt an order waits for its
	// expiry event before the sweep expires it; default DefaultSweepGrace.
	SweepGrace time.Duration
	// CatchUp is how long a reservation of a ticket the replica has never
	// seen waits for its ticket.created before answering 404
	// (arrivals.go); default DefaultCatchUp.
	CatchUp time.Duration
	// CatchUpPoll is the first interval at which that wait looks at the
	// replica for a ticket another process added; default
	// DefaultCatchUpPoll.
	CatchUpPoll time.Duration
	// Fee is the buyer's service fee (SERVICE_FEE_PERCENT,
	// SERVICE_FEE_CENTS), applied once when an order is made; the zero
	// rule is no fee. cmd passes DefaultFee unless configured otherwise.
	Fee money.FeeRule
	// RefundChunk is how many orders of a cancelled event one transaction
	// asks refunds for (refund.go); default DefaultRefundChunk.
	RefundChunk int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AdmissionKey verifies the waiting room's admissions
	// (admission.Key of the session key); without it a queued event's
	// reservation by event is refused while its room is open.
	AdmissionKey []byte
}

// DefaultFee is DESIGN.md's default service fee: 10% + $0.50.
var DefaultFee = money.FeeRule{Basis: 1000, Fixed: 50}

// Service holds the orders use cases.
type Service struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	log   *slog.Logger
	cfg   Config
	// limits are cfg's bounds on a reservation.
	limits Limits
	// arrivals wakes reservations waiting for a ticket (awaitTicket).
	arrivals arrivals
}

// New returns the service over db (opened with Migrations and
// outbox.Migrations), publishing through ob.
func New(db *sqldb.DB, ob *outbox.Outbox, log *slog.Logger, cfg Config) *Service {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPendingPerAddress <= 0 {
		cfg.MaxPendingPerAddress = DefaultMaxPendingPerAddress
	}
	if cfg.RefundChunk <= 0 {
		cfg.RefundChunk = DefaultRefundChunk
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = DefaultSweepEvery
	}
	if cfg.SweepGrace <= 0 {
		cfg.SweepGrace = DefaultSweepGrace
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.CatchUpPoll <= 0 {
		cfg.CatchUpPoll = DefaultCatchUpPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	limits := Limits{MaxPending: cfg.MaxPending, MaxPerAddress: cfg.MaxPendingPerAddress, Window: cfg.Window}
	return &Service{db: db, store: NewStore(db), ob: ob, log: log, cfg: cfg, limits: limits}
}

// Reserve creates an order holding ticketID for userID, who calls from
// client address addr ("" when unknown: no per-address limit). It is the
// hot path of a flash sale, where almost every attempt loses, so a loser
// is answered from reads outside any transaction (peek); it never waits
// for SQLite's single writer nor holds a PostgreSQL transaction. An
// attempt the reads let through runs one short transaction: the same
// checks again, under the buyer's lock, then the INSERT and the event.
// Among those, the unique index over unpaid orders, not a read, decides
// who wins: the INSERT that finds the ticket held stores nothing and is
// the ErrTicketReserved. A ticket the replica has never seen waits briefly
// for its ticket.created (awaitTicket) before it is ErrTicketNotFound; a
// known ticket never waits.
func (s *Service) Reserve(ctx context.Context, userID, ticketID, addr string) (Order, error) {
	if !ids.Valid(ticketID) {
		return Order{}, ErrTicketNotFound
	}
	addr = httpapi.AddrKey(addr)
	now := s.cfg.Now()
	err := s.peek(ctx, ticketID, userID, addr, now)
	if errors.Is(err, ErrTicketNotFound) {
		err = s.awaitTicket(ctx, ticketID, func() error {
			now = s.cfg.Now()
			return s.peek(ctx, ticketID, userID, addr, now)
		})
	}
	if err != nil {
		return Order{}, fmt.Errorf("reserve: %w", err)
	}
	var o Order
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.store.LockBuyer(ctx, tx, userID, addr); err != nil {
			return err
		}
		t, holds, err := s.store.TicketForReserve(ctx, tx, ticketID, userID, addr)
		if errors.Is(err, sqldb.ErrNotFound) {
			return ErrTicketNotFound
		}
		if err == nil && t.Resale && t.EventID != "" {
			// The cap in force at order time: read again under the
			// event's lock, which a change of the event waits for
			// (ApplyEvent), so this order commits either before a
			// lower cap or checked against it.
			t.ResaleCap, err = s.store.ResaleCapForReserve(ctx, tx, t.EventID)
		}
		if err == nil {
			err = s.refusal(t, holds, userID, now)
		}
		if err != nil {
			return err
		}
		o = NewOrder(userID, t, now, s.cfg.Window)
		o.ClientAddr = addr
		o.SetFee(s.cfg.Fee)
		if err := s.store.InsertOrder(ctx, tx, o); err != nil {
			if errors.Is(err, sqldb.ErrConflict) {
				return ErrTicketReserved
			}
			return err
		}
		if t.EventID != "" {
			if err := s.store.MarkPicked(ctx, tx, t.ID, o.ID); err != nil {
				return err
			}
		}
		return s.ob.Add(ctx, tx, o.Created())
	})
	if err != nil {
		return Order{}, fmt.Errorf("reserve: %w", err)
	}
	return o, nil
}

// peek answers from reads outside any transaction a reservation that is
// bound to lose, or returns nil. Where a point read is cheap (the store
// says), a winner pays one point read of the ticket and only a ticket
// that is not plainly free to take costs the full read of the buyer's
// holds; elsewhere every attempt pays the full read alone. Either way
// the buyer is told what the transaction would have told them (a limit
// before a reserved ticket).
func (s *Service) peek(ctx context.Context, ticketID, userID, addr string, now time.Time) error {
	if s.store.PointReadFirst() {
		t, held, err := s.store.PeekTicket(ctx, ticketID)
		switch {
		case errors.Is(err, sqldb.ErrNotFound):
			return ErrTicketNotFound
		case err != nil:
			return err
		case t.UserID == userID:
			return ErrOwnTicket
		case t.Status == events.TicketOnSale && !held && !now.Before(t.OnSaleAt):
			return nil
		}
	}
	t, holds, held, err := s.store.PeekReserve(ctx, ticketID, userID, addr)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return ErrTicketNotFound
	case err != nil:
		return err
	}
	if err := s.refusal(t, holds, userID, now); err != nil {
		return err
	}
	if held {
		// The replica has not heard yet (ticket.updated), but the orders
		// table knows.
		return ErrTicketReserved
	}
	return nil
}

// refusal is why userID may not reserve ticket t given their holds, or nil,
// in the order a buyer is told: their own ticket first, then a limit (a
// buyer at one gets 429 even for a ticket that is reserved), then the
// ticket's status.
func (s *Service) refusal(t Ticket, holds Holds, userID string, now time.Time) error {
	if t.UserID == userID {
		return ErrOwnTicket
	}
	// An issued ticket, resold after its event's end, gets nobody in.
	if t.EventID != "" && events.EventEnded(t.EventStartsAt, t.EventEndsAt, now) {
		return ErrEventEnded
	}
	if err := notOnSaleYet(t.OnSaleAt, now); err != nil {
		return err
	}
	if err := holds.Allow(now, s.limits); err != nil {
		return err
	}
	// Whether the ticket may be ordered comes from its status; among
	// buyers who all see it on sale, the unique index decides.
	switch t.Status {
	case events.TicketOnSale:
		if t.OverCap() {
			e := *ErrOverResaleCap
			e.Message = fmt.Sprintf("This resale ticket is priced above the event's resale cap, %s, and can no longer be ordered", t.ResaleCap)
			return &refusal{fault: &e, sentinel: ErrOverResaleCap}
		}
		return nil
	case events.TicketReserved:
		return ErrTicketReserved
	default:
		return ErrTicketNotAvailable
	}
}

// notOnSaleYet is ErrNotOnSaleYet, with the time and a Retry-After, when
// now is before onSaleAt; nil otherwise (and for a zero onSaleAt).
func notOnSaleYet(onSaleAt, now time.Time) error {
	if !now.Before(onSaleAt) {
		return nil
	}
	return refuse(ErrNotOnSaleYet, fmt.Sprintf("Tickets go on sale at %s; try again then",
		onSaleAt.UTC().Format(time.RFC3339)), onSaleAt.Sub(now))
}

// maxPicks bounds the free tickets one reservation by event tries in its
// transaction. Each conflict proves a ticket taken by an order the next
// pick sees, so more than one is rare (PostgreSQL, a pick racing a
// commit); SQLite's one writer never conflicts.
const maxPicks = 8

// ReserveFromEvent creates an order holding any one free ticket of the
// event eventID for userID, at face value, through the same order,
// expiry and payment flow as Reserve. Like Reserve, a loser is answered
// from reads outside any transaction (unknown event, the organizer,
// ended, not on sale yet, a limit, sold out, cancelled); an attempt the reads let
// through runs one short transaction that checks again under the buyer's
// lock, picks a free ticket from a random point among the event's (on
// PostgreSQL skipping rows another buyer has locked) and inserts the
// order. The unique index over unpaid orders stays the final judge: a
// pick that loses there picks again, and never more orders than tickets
// are made.
func (s *Service) ReserveFromEvent(ctx context.Context, userID, eventID, addr string) (Order, error) {
	if !ids.Valid(eventID) {
		return Order{}, ErrEventNotFound
	}
	addr = httpapi.AddrKey(addr)
	now := s.cfg.Now()
	ev, holds, err := s.store.PeekEvent(ctx, eventID, userID, addr)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Order{}, ErrEventNotFound
	}
	if err == nil {
		err = s.eventRefusal(ev, holds, userID, now)
	}
	if err == nil && !ev.Free {
		err = ErrSoldOut
		if ev.Cancelled {
			err = ErrEventCancelled
		}
	}
	if err != nil {
		return Order{}, fmt.Errorf("reserve from event: %w", err)
	}
	var o Order
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.store.LockBuyer(ctx, tx, userID, addr); err != nil {
			return err
		}
		ev, holds, err := s.store.EventForReserve(ctx, tx, eventID, userID, addr)
		if errors.Is(err, sqldb.ErrNotFound) {
			return ErrEventNotFound
		}
		if err == nil {
			err = s.eventRefusal(ev, holds, userID, now)
		}
		if err != nil {
			return err
		}
		o = NewOrder(userID, Ticket{}, now, s.cfg.Window)
		o.ClientAddr = addr
		for range maxPicks {
			t, err := s.store.PickFree(ctx, tx, eventID, uuid.NewString(), o.ID)
			if errors.Is(err, sqldb.ErrNotFound) {
				return ErrSoldOut
			}
			if err != nil {
				return err
			}
			o.Ticket, o.Primary = t, true
			o.SetFee(s.cfg.Fee)
			err = s.store.InsertOrder(ctx, tx, o)
			if errors.Is(err, sqldb.ErrConflict) {
				if err := s.store.RestorePicked(ctx, tx, t.ID); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			return s.ob.Add(ctx, tx, o.Created())
		}
		return ErrTicketReserved
	})
	if err != nil {
		return Order{}, fmt.Errorf("reserve from event: %w", err)
	}
	return o, nil
}

// eventRefusal is why userID may not reserve a ticket of ev given their
// holds, or nil: the organizer's own event, its end, the on-sale time,
// then the limits.
func (s *Service) eventRefusal(ev Event, holds Holds, userID string, now time.Time) error {
	if ev.OrganizerID == userID {
		return ErrOwnTicket
	}
	if events.EventEnded(ev.StartsAt, ev.EndsAt, now) {
		return ErrEventEnded
	}
	if err := notOnSaleYet(ev.OnSaleAt, now); err != nil {
		return err
	}
	return holds.Allow(now, s.limits)
}

// CancelForEvent cancels the unpaid order id because tickets withdrew its
// ticket with its event (ticket.updated, status withdrawn, with the
// order): cancelledBy event_cancelled, order.cancelled. A paid order is
// left complete and its refund asked for, unless it was before (refund.go;
// its JSON says the refund is pending until payments reports it done); a
// cancelled or unknown one is done.
func (s *Service) CancelForEvent(ctx context.Context, id string) error {
	err := s.cancel(ctx, id, "", events.CancelledByEventCancelled)
	if errors.Is(err, ErrOrderComplete) {
		err = s.changeOrder(ctx, id, func(tx *sqldb.Tx, o *Order) error {
			if o.Status != StatusComplete {
				return nil
			}
			return s.requestRefund(ctx, tx, o, s.cfg.Now().UTC().Truncate(time.Millisecond))
		})
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cancel for event: %w", err)
	}
	return nil
}

// Orders returns userID's orders, newest first.
func (s *Service) Orders(ctx context.Context, userID string) ([]Order, error) {
	list, err := s.store.QueryOrdersByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return list, nil
}

// Order returns the order id if userID owns it.
func (s *Service) Order(ctx context.Context, userID, id string) (Order, error) {
	if !ids.Valid(id) {
		return Order{}, ErrNotFound
	}
	o, err := s.store.QueryOrder(ctx, id)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return Order{}, ErrNotFound
	case err != nil:
		return Order{}, fmt.Errorf("order: %w", err)
	case o.UserID != userID:
		return Order{}, ErrNotOwner
	}
	return o, nil
}

// Cancel cancels the order id on its buyer's request. Cancelling a
// cancelled order succeeds and publishes nothing.
func (s *Service) Cancel(ctx context.Context, userID, id string) error {
	if err := s.cancel(ctx, id, userID, events.CancelledByBuyer); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	return nil
}

// Expire cancels the order id because its window ran out; a complete or
// already cancelled order is left alone. An unknown order is ErrNotFound.
func (s *Service) Expire(ctx context.Context, id string) error {
	err := s.cancel(ctx, id, "", events.CancelledByExpiry)
	if errors.Is(err, ErrOrderComplete) {
		return nil // paid in time: nothing expires
	}
	if err != nil {
		return fmt.Errorf("expire: %w", err)
	}
	s.log.Debug("order expired", "order_id", id)
	return nil
}

// changeOrder runs fn on the order id, read and locked in one transaction
// with whatever fn writes; an id that names no order is ErrNotFound.
func (s *Service) changeOrder(ctx context.Context, id string, fn func(tx *sqldb.Tx, o *Order) error) error {
	if !ids.Valid(id) {
		return ErrNotFound
	}
	return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		o, err := s.store.OrderForUpdate(ctx, tx, id)
		if errors.Is(err, sqldb.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return fn(tx, &o)
	})
}

// cancel cancels the order for the reason by and publishes order.cancelled
// in one transaction. A non-empty owner must own the order.
func (s *Service) cancel(ctx context.Context, id, owner, by string) error {
	return s.changeOrder(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if owner != "" && o.UserID != owner {
			return ErrNotOwner
		}
		prev, before := o.Version, o.Status
		if err := o.Cancel(by); err != nil {
			if errors.Is(err, ErrAlreadyCancelled) {
				return nil // done before: same state, no new event
			}
			return err
		}
		s.stamp(o, before)
		if err := s.store.UpdateOrder(ctx, tx, *o, prev); err != nil {
			return err
		}
		if err := s.store.ClearPicked(ctx, tx, o.Ticket.ID, o.ID); err != nil {
			return err
		}
		return s.ob.Add(ctx, tx, o.Cancelled())
	})
}

// Pay applies a successful payment to its order: complete, or, when the
// order was cancelled before the payment arrived, a refund request through
// the outbox. An unknown order is ErrNotFound.
func (s *Service) Pay(ctx context.Context, orderID string, p Payment) error {
	err := s.changeOrder(ctx, orderID, func(tx *sqldb.Tx, o *Order) error {
		prev, before := o.Version, o.Status
		outcome := o.Pay(p)
		s.stamp(o, before)
		if o.Version != prev {
			if err := s.store.UpdateOrder(ctx, tx, *o, prev); err != nil {
				return err
			}
		}
		if outcome == PaymentApplied {
			if err := s.ob.Add(ctx, tx, o.Completed()); err != nil {
				return err
			}
			// Paid after its event was cancelled: the refund goes out
			// now (refund.go).
			return s.refundIfEventCancelled(ctx, tx, o)
		}
		if outcome == PaymentRefund {
			s.log.Warn("payment for an order that cannot take it: refund requested",
				"order_id", o.ID, "status", string(o.Status), "payment_id", p.ID)
			return s.ob.Add(ctx, tx, o.RefundRequested(p))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pay: %w", err)
	}
	return nil
}

// Refuse applies tickets' refusal to hold the ticket for the order
// (ticket.reservation_refused), in one transaction: an unpaid order is
// cancelled with reason as its cancelledBy and order.cancelled published;
// one paid in the moment between is cancelled too and its payment's refund
// requested (order.refund_requested, the path of a payment that raced the
// expiry). A cancelled order is left alone, so a redelivery publishes
// nothing. An unknown order is ErrNotFound.
//
// The paid case publishes no order.cancelled: tickets never held the
// ticket for the order, expiration finds it cancelled when its schedule
// fires, and payments, whose replica never saw the completion, learns of
// the refund from order.refund_requested.
func (s *Service) Refuse(ctx context.Context, orderID, reason string) error {
	err := s.changeOrder(ctx, orderID, func(tx *sqldb.Tx, o *Order) error {
		prev, before := o.Version, o.Status
		outcome := o.Refuse(reason)
		if outcome == RefusalIgnored {
			return nil
		}
		s.stamp(o, before)
		if err := s.store.UpdateOrder(ctx, tx, *o, prev); err != nil {
			return err
		}
		if err := s.store.ClearPicked(ctx, tx, o.Ticket.ID, o.ID); err != nil {
			return err
		}
		if outcome == RefusalRefund {
			if !o.RefundRequestedAt.IsZero() {
				return nil // asked for already, its event being cancelled
			}
			s.log.Warn("reservation refused after payment: refund requested",
				"order_id", o.ID, "reason", reason, "payment_id", o.PaymentID)
			return s.requestRefund(ctx, tx, o, s.cfg.Now().UTC().Truncate(time.Millisecond))
		}
		return s.ob.Add(ctx, tx, o.Cancelled())
	})
	if err != nil {
		return fmt.Errorf("refuse: %w", err)
	}
	return nil
}

// stamp records the moment o took a new status (paid, cancelled), which the
// buyer's list shows; before is its status when read. A change that keeps
// the status (a late payment recorded for its refund) keeps the moment.
func (s *Service) stamp(o *Order, before Status) {
	if o.Status != before {
		o.EndedAt = s.cfg.Now().UTC().Truncate(time.Millisecond)
	}
}

// AddTicket adds a listed ticket to the replica; adding it again is a no-op.
// A ticket without a status (a ticket.created from before the field
// existed) is on sale.
func (s *Service) AddTicket(ctx context.Context, t Ticket) error {
	if t.Status == "" {
		t.Status = events.TicketOnSale
	}
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.InsertTicket(ctx, tx, t)
	})
	if err != nil {
		return fmt.Errorf("add ticket: %w", err)
	}
	s.arrivals.arrived(t.ID)
	return nil
}

// UpdateTicket applies a new version of a ticket to the replica by the
// replica rule (replica.Apply): an update already applied is a no-op; one
// that arrives early (or before its ticket) is an error wrapping
// replica.ErrBehind, which the bus redelivers later by itself.
func (s *Service) UpdateTicket(ctx context.Context, t Ticket) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.ApplyTicket(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("update ticket: %w", err)
	}
	return nil
}

// ApplyEvent keeps orders' replica of the event's times (sale_events) at
// ev's version: event.created inserts it, event.updated and
// event.cancelled apply version N on N−1 (replica.ErrBehind for one that
// came early).
func (s *Service) ApplyEvent(ctx context.Context, ev events.EventState, created bool) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.ApplyEvent(ctx, tx, ev, created)
		return err
	})
	if err != nil {
		return fmt.Errorf("event %s v%d: %w", ev.ID, ev.Version, err)
	}
	return nil
}

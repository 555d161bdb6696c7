package orders

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the orders service's tables; pass it to sqldb.Open
// beside outbox.Migrations.
var Migrations = sqldb.EmbeddedMigrations("orders", migrationFiles)

// Store keeps orders and the ticket replica in the service's database.
// Methods taking a *sqldb.Tx run inside the caller's transaction, so a
// change and its outbox event commit together.
type Store struct {
	db *sqldb.DB
}

// NewStore returns a Store over db. Its statements go by their text: on
// SQLite each connection keeps what it ran compiled (sqldb's statement
// cache), on PostgreSQL pgx does, so the reservation's hot statements are
// compiled once per connection without a prepared statement of their own.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// orderColumns are read by scanOrder, in its order.
// The ticket's price and version are the order's own snapshot; only the
// title comes from the replica.
const orderColumns = `o.id, o.user_id, o.status, o.expires_at, o.version, o.created_at,
	COALESCE(o.payment_id, ''), o.stripe_id, o.cancelled_by, t.id, t.title, o.ticket_price, o.ticket_version,
	COALESCE(o.ended_at, 0), COALESCE(o.client_addr, ''), t.status, COALESCE(t.event_id, ''), o.fee,
	COALESCE(o.refund_requested_at, 0), COALESCE(o.refunded_at, 0), o.refunded,
	EXISTS (SELECT 1 FROM cancelled_events ce WHERE ce.id = t.event_id)`

func scanOrder(s scanner) (Order, error) {
	var (
		o                           Order
		status                      string
		expires, createdAt, endedAt int64
		requested, refunded         int64
	)
	err := s.Scan(&o.ID, &o.UserID, &status, &expires, &o.Version, &createdAt,
		&o.PaymentID, &o.StripeID, &o.CancelledBy, &o.Ticket.ID, &o.Ticket.Title, &o.Ticket.Price, &o.Ticket.Version,
		&endedAt, &o.ClientAddr, &o.Ticket.Status, &o.Ticket.EventID, &o.Fee,
		&requested, &refunded, &o.Refunded, &o.eventRecordedCancelled)
	if err != nil {
		return Order{}, err
	}
	o.Status = Status(status)
	o.ExpiresAt = time.UnixMilli(expires).UTC()
	o.CreatedAt = time.UnixMilli(createdAt).UTC()
	if endedAt != 0 {
		o.EndedAt = time.UnixMilli(endedAt).UTC()
	}
	if requested != 0 {
		o.RefundRequestedAt = time.UnixMilli(requested).UTC()
	}
	if refunded != 0 {
		o.RefundedAt = time.UnixMilli(refunded).UTC()
	}
	return o, nil
}

// fromMillis is a nullable unix-ms column as a time; NULL is the zero time.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// millisOrNull stores t as unix ms, the zero time as NULL.
func millisOrNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// orNull stores "" as NULL.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// lockSpaceAddr is the advisory-lock class (the first key of PostgreSQL's
// two-key form) of client addresses, so an address never shares a lock
// with a user (single-key form) and no two kinds of key can take each
// other's locks in opposite orders.
const lockSpaceAddr = 1

// LockBuyer serialises, until tx ends, the reservations of one user and
// those of one client address (addr "" takes no address lock), so two
// concurrent ones cannot both pass the MaxPending or the per-address
// count. PostgreSQL needs it (READ COMMITTED lets two transactions count
// before either inserts); SQLite has one writer at a time, so there it is a
// no-op and costs no round trip. Every reservation takes the user's lock
// before the address's, in one statement, so two never wait on each other
// in a cycle.
func (s *Store) LockBuyer(ctx context.Context, tx *sqldb.Tx, userID, addr string) error {
	if tx.Engine() != sqldb.Postgres {
		return nil
	}
	// hashtext collisions only make two users (or addresses) take turns,
	// never wrong.
	q, args := `SELECT pg_advisory_xact_lock(hashtext($1))`, []any{userID}
	if addr != "" {
		q, args = `SELECT pg_advisory_xact_lock(hashtext($1)), pg_advisory_xact_lock($2, hashtext($3))`,
			[]any{userID, lockSpaceAddr, addr}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("lock buyer: %w", sqldb.Err(err))
	}
	return nil
}

// TicketForReserve reads the ticket and the holds a reservation is checked
// against (the user's and the address's unpaid orders, the user's latest
// cancelled order for the ticket) in one statement: the reservation is the
// hot path, and a round trip saved there is saved on every attempt of a
// flash sale. Each part is answered from its own partial index.
func (s *Store) TicketForReserve(ctx context.Context, tx *sqldb.Tx, ticketID, userID, addr string) (Ticket, Holds, error) {
	var (
		t                              Ticket
		h                              Holds
		userFirst, addrFirst, lastDone sql.NullInt64
	)
	row := tx.QueryRowContext(ctx, ticketForReserveQuery, ticketID, userID, orNull(addr))
	var onSale, starts, ends, face, pct sql.NullInt64
	err := row.Scan(&t.ID, &t.Title, &t.Price, &t.Version, &t.Status, &t.UserID, &onSale, &t.EventID,
		&h.UserPending, &userFirst, &h.AddrPending, &addrFirst, &lastDone, &starts, &ends, &t.Resale, &face, &pct)
	if err != nil {
		return Ticket{}, Holds{}, fmt.Errorf("ticket for reserve: %w", sqldb.Err(err))
	}
	t.ResaleCap = resaleCap(face.Int64, pct.Int64)
	t.OnSaleAt, t.EventStartsAt, t.EventEndsAt = fromMillis(onSale), fromMillis(starts), fromMillis(ends)
	h.UserFirstExpiry, h.AddrFirstExpiry, h.LastCancelled = fromMillis(userFirst), fromMillis(addrFirst), fromMillis(lastDone)
	return t, h, nil
}

// PeekTicket reads, outside any transaction, a ticket's status and seller
// in the replica and whether an unpaid order holds it (a probe of
// orders_unpaid_ticket): the first, cheapest look of a reservation, which
// is all a winner needs before its transaction.
func (s *Store) PeekTicket(ctx context.Context, ticketID string) (Ticket, bool, error) {
	var (
		t    Ticket
		held bool
	)
	row := s.db.Read().QueryRowContext(ctx, peekTicketQuery, ticketID)
	var onSale sql.NullInt64
	if err := row.Scan(&t.ID, &t.Status, &t.UserID, &onSale, &held); err != nil {
		return Ticket{}, false, fmt.Errorf("peek ticket: %w", sqldb.Err(err))
	}
	t.OnSaleAt = fromMillis(onSale)
	return t, held, nil
}

const peekTicketQuery = `SELECT t.id, t.status, t.user_id, t.on_sale_at, ` + heldColumn + ` FROM tickets t WHERE t.id = $1`

// heldColumn is whether an unpaid order holds ticket $1.
const heldColumn = `EXISTS (SELECT 1 FROM orders h WHERE h.ticket_id = $1 AND h.status IN ('created', 'awaiting:payment'))`

// PointReadFirst reports whether a reservation's first look is the
// ticket's point read (PeekTicket), with the full read (PeekReserve) only
// for a ticket it does not find plainly free. On SQLite a read is a call
// into the library, and the point read costs a fraction of the full one,
// which a winner then skips. On PostgreSQL every read is a round trip,
// which costs both sides more than the full read's subqueries: the full
// read alone answers every attempt, and a loser pays one round trip, not
// two.
func (s *Store) PointReadFirst() bool { return s.db.Engine() == sqldb.SQLite }

// PeekReserve is TicketForReserve outside any transaction, on the read
// pool (on SQLite it runs beside the writer), and also reports whether an
// unpaid order already holds the ticket (a probe of orders_unpaid_ticket).
// It lets a reservation that is bound to lose be answered from a read; what
// it says may be stale by the time a transaction starts, so a reservation
// it lets through is checked again inside one.
func (s *Store) PeekReserve(ctx context.Context, ticketID, userID, addr string) (Ticket, Holds, bool, error) {
	var (
		t                              Ticket
		h                              Holds
		held                           bool
		userFirst, addrFirst, lastDone sql.NullInt64
	)
	row := s.db.Read().QueryRowContext(ctx, peekReserveQuery, ticketID, userID, orNull(addr))
	var onSale, starts, ends, face, pct sql.NullInt64
	err := row.Scan(&t.ID, &t.Title, &t.Price, &t.Version, &t.Status, &t.UserID, &onSale, &t.EventID,
		&h.UserPending, &userFirst, &h.AddrPending, &addrFirst, &lastDone, &starts, &ends, &t.Resale, &face, &pct, &held)
	if err != nil {
		return Ticket{}, Holds{}, false, fmt.Errorf("peek reserve: %w", sqldb.Err(err))
	}
	t.ResaleCap = resaleCap(face.Int64, pct.Int64)
	t.OnSaleAt, t.EventStartsAt, t.EventEndsAt = fromMillis(onSale), fromMillis(starts), fromMillis(ends)
	h.UserFirstExpiry, h.AddrFirstExpiry, h.LastCancelled = fromMillis(userFirst), fromMillis(addrFirst), fromMillis(lastDone)
	return t, h, held, nil
}

// ticketForReserveQuery is TicketForReserve's one statement. The pause
// counts only what the buyer did (cancelled, or let expire): a reservation
// tickets refused (price_change, ...) was not the buyer's doing; the
// reasons are pausesReserve's.
const ticketForReserveQuery = `SELECT ` + ticketForReserveColumns + ` ` + ticketForReserveFrom

// peekReserveQuery is PeekReserve's: TicketForReserve's and whether an
// unpaid order holds the ticket.
const peekReserveQuery = `SELECT ` + ticketForReserveColumns + `, ` + heldColumn + ` ` + ticketForReserveFrom

// ticketForReserveColumns and ticketForReserveFrom are the parts of the
// reservation's read that TicketForReserve and PeekReserve share.
const ticketForReserveColumns = `t.id, t.title, t.price, t.version, t.status, t.user_id, t.on_sale_at, COALESCE(t.event_id, ''), u.n, u.first, a.n, a.first,
		(SELECT max(c.ended_at) FROM orders c
		 WHERE c.user_id = $2 AND c.ticket_id = $1 AND c.status = 'cancelled'
		   AND c.cancelled_by IN ('buyer', 'expiry')),
		(SELECT se.starts_at FROM sale_events se WHERE se.id = t.event_id),
		(SELECT se.ends_at FROM sale_events se WHERE se.id = t.event_id),
		t.resale,
		(SELECT se.face_value FROM sale_events se WHERE se.id = t.event_id),
		(SELECT se.resale_cap_percent FROM sale_events se WHERE se.id = t.event_id)`

const ticketForReserveFrom = `FROM tickets t
		CROSS JOIN (SELECT count(*) AS n, min(o.expires_at) AS first FROM orders o
			WHERE o.user_id = $2 AND o.status IN ('created', 'awaiting:payment')) u
		CROSS JOIN (SELECT count(*) AS n, min(o.expires_at) AS first FROM orders o
			WHERE o.client_addr = $3 AND o.status IN ('created', 'awaiting:payment')) a
		WHERE t.id = $1`

// InsertOrder stores a new order with its snapshot of the ticket's price
// and version, and the service fee computed from that price. When an unpaid order already holds the ticket
// (orders_unpaid_ticket) nothing is stored and the error is
// sqldb.ErrConflict, but the database raises no error: ON CONFLICT DO
// NOTHING, so on PostgreSQL a lost race neither aborts the transaction nor
// logs a unique violation. (The conflict target repeats the partial
// index's predicate, which both engines need to match it.)
func (s *Store) InsertOrder(ctx context.Context, tx *sqldb.Tx, o Order) error {
	args := []any{o.ID, o.UserID, o.Ticket.ID, string(o.Status),
		o.ExpiresAt.UnixMilli(), o.Version, o.CreatedAt.UnixMilli(), int64(o.Ticket.Price), o.Ticket.Version, orNull(o.ClientAddr), int64(o.Fee)}
	res, err := tx.ExecContext(ctx, insertOrderQuery, args...)
	if err != nil {
		return fmt.Errorf("insert order: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("insert order: ticket %s is held by an unpaid order: %w", o.Ticket.ID, sqldb.ErrConflict)
	}
	return nil
}

const insertOrderQuery = `INSERT INTO orders (id, user_id, ticket_id, status, expires_at, version, created_at, ticket_price, ticket_version, client_addr, fee)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (ticket_id) WHERE status IN ('created', 'awaiting:payment') DO NOTHING`

// OrderForUpdate reads an order with its ticket inside tx and, on
// PostgreSQL, locks its row until tx ends, so a cancellation by the buyer
// and one by expiry do not both apply. (SQLite's writer is alone anyway.)
func (s *Store) OrderForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (Order, error) {
	q := `SELECT ` + orderColumns + `
		FROM orders o JOIN tickets t ON t.id = o.ticket_id
		WHERE o.id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE OF o`
	}
	o, err := scanOrder(tx.QueryRowContext(ctx, q, id))
	if err != nil {
		return Order{}, fmt.Errorf("order for update: %w", sqldb.Err(err))
	}
	return o, nil
}

// UpdateOrder writes o's status, version, payment, cancellation reason and
// end time, provided the stored version is still prev (a guard: the row
// lock already excludes other writers).
func (s *Store) UpdateOrder(ctx context.Context, tx *sqldb.Tx, o Order, prev int64) error {
	const q = `UPDATE orders SET status = $1, version = $2, payment_id = NULLIF($3, ''), stripe_id = $4,
		cancelled_by = $5, ended_at = $8 WHERE id = $6 AND version = $7`
	var ended sql.NullInt64 // NULL while the order waits
	if !o.EndedAt.IsZero() {
		ended = sql.NullInt64{Int64: o.EndedAt.UnixMilli(), Valid: true}
	}
	res, err := tx.ExecContext(ctx, q, string(o.Status), o.Version, o.PaymentID, o.StripeID, o.CancelledBy, o.ID, prev, ended)
	if err != nil {
		return fmt.Errorf("update order: %w", sqldb.Err(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update order: %w", err)
	} else if n != 1 {
		return fmt.Errorf("update order %s: version %d is no longer current", o.ID, prev)
	}
	return nil
}

// QueryOrder reads one order with its ticket.
func (s *Store) QueryOrder(ctx context.Context, id string) (Order, error) {
	const q = `SELECT ` + orderColumns + `
		FROM orders o JOIN tickets t ON t.id = o.ticket_id
		WHERE o.id = $1`
	o, err := scanOrder(s.db.Read().QueryRowContext(ctx, q, id))
	if err != nil {
		return Order{}, fmt.Errorf("query order: %w", sqldb.Err(err))
	}
	return o, nil
}

// QueryOrdersByUser reads a user's orders, newest first, each with its
// ticket, in one query.
func (s *Store) QueryOrdersByUser(ctx context.Context, userID string) ([]Order, error) {
	const q = `SELECT ` + orderColumns + `
		FROM orders o JOIN tickets t ON t.id = o.ticket_id
		WHERE o.user_id = $1
		ORDER BY o.created_at DESC, o.id DESC`
	rows, err := s.db.Read().QueryContext(ctx, q, userID)
	if err != nil {
		return nil, fmt.Errorf("query orders by user: %w", sqldb.Err(err))
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("query orders by user: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query orders by user: %w", err)
	}
	return out, nil
}

// OverdueOrders returns the ids of at most limit unpaid orders whose
// expiry is before before, the longest overdue first (the sweep's query,
// on the index orders_unpaid_expires).
func (s *Store) OverdueOrders(ctx context.Context, before time.Time, limit int) ([]string, error) {
	const q = `SELECT id FROM orders
		WHERE status IN ('created', 'awaiting:payment') AND expires_at < $1
		ORDER BY expires_at LIMIT $2`
	rows, err := s.db.Read().QueryContext(ctx, q, before.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("query overdue orders: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query overdue orders: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query overdue orders: %w", err)
	}
	return ids, nil
}

// InsertTicket adds a ticket to the replica; a ticket already there (a
// redelivered ticket.created) is left as it is.
func (s *Store) InsertTicket(ctx context.Context, tx *sqldb.Tx, t Ticket) error {
	_, err := replica.Insert(ctx, tx, "tickets", t.ID, t.Version, ticketColumns(t))
	return err
}

// ApplyTicket applies t to the replica by the replica rule: only on top of
// t.Version-1 (replica.Apply).
func (s *Store) ApplyTicket(ctx context.Context, tx *sqldb.Tx, t Ticket) (replica.Outcome, error) {
	return replica.Apply(ctx, tx, "tickets", t.ID, t.Version, ticketColumns(t))
}

// ticketColumns are the replica's columns of t besides id and version.
func ticketColumns(t Ticket) replica.Set {
	var onSale sql.NullInt64
	if !t.OnSaleAt.IsZero() {
		onSale = sql.NullInt64{Int64: t.OnSaleAt.UnixMilli(), Valid: true}
	}
	return replica.Set{"title": t.Title, "price": int64(t.Price), "status": t.Status, "user_id": t.UserID,
		"event_id": orNull(t.EventID), "on_sale_at": onSale, "resale": t.Resale}
}

// Event is what the replica knows of an event from its tickets: the
// organizer (their seller) and when they go on sale; a peek also says
// whether a free ticket is left and whether tickets withdrew them (the
// event was cancelled).
type Event struct {
	OrganizerID string
	OnSaleAt    time.Time
	// StartsAt and EndsAt are the event's times from its event.* messages
	// (sale_events); zero while orders has none.
	StartsAt, EndsAt time.Time
	Free             bool
	Cancelled        bool
}

// eventHoldsFrom is the FROM of the reservation-by-event reads: one of
// the event's tickets ($1; tickets_event) beside the buyer's ($2) and the
// address's ($3) unpaid orders. An event with no ticket in the replica is
// no row.
const eventHoldsFrom = `FROM (SELECT user_id, on_sale_at FROM tickets WHERE event_id = $1 LIMIT 1) e
		CROSS JOIN (SELECT count(*) AS n, min(o.expires_at) AS first FROM orders o
			WHERE o.user_id = $2 AND o.status IN ('created', 'awaiting:payment')) u
		CROSS JOIN (SELECT count(*) AS n, min(o.expires_at) AS first FROM orders o
			WHERE o.client_addr = $3 AND o.status IN ('created', 'awaiting:payment')) a`

// eventHoldsColumns: the pause after a buyer released a ticket counts any
// ticket of the event, as the buyer does not choose which they get.
// The event's times come from sale_events by its primary key.
const eventHoldsColumns = `e.user_id, e.on_sale_at, u.n, u.first, a.n, a.first,
		(SELECT max(c.ended_at) FROM orders c JOIN tickets ct ON ct.id = c.ticket_id
		 WHERE c.user_id = $2 AND c.status = 'cancelled' AND c.cancelled_by IN ('buyer', 'expiry')
		   AND ct.event_id = $1),
		(SELECT se.starts_at FROM sale_events se WHERE se.id = $1),
		(SELECT se.ends_at FROM sale_events se WHERE se.id = $1)`

const eventForReserveQuery = `SELECT ` + eventHoldsColumns + ` ` + eventHoldsFrom

// peekEventQuery also asks whether a ticket is free (as PickFree, whose
// shape it has so that it takes the same index, tickets_event_free, and
// reads one entry) and whether one was withdrawn.
const peekEventQuery = `SELECT ` + eventHoldsColumns + `,
		(SELECT f.id FROM tickets f WHERE f.event_id = $1 AND f.status = 'on_sale' AND f.picked_order_id IS NULL
			AND f.id >= '' AND NOT EXISTS (SELECT 1 FROM orders h WHERE h.ticket_id = f.id AND h.status IN ('created', 'awaiting:payment'))
		 ORDER BY f.id LIMIT 1) IS NOT NULL,
		EXISTS (SELECT 1 FROM tickets w WHERE w.event_id = $1 AND w.status = 'withdrawn')
		` + eventHoldsFrom

func scanEvent(row *sql.Row, peek bool) (Event, Holds, error) {
	var (
		e                              Event
		h                              Holds
		onSale                         sql.NullInt64
		userFirst, addrFirst, lastDone sql.NullInt64
		startsAt, endsAt               sql.NullInt64
	)
	dest := []any{&e.OrganizerID, &onSale, &h.UserPending, &userFirst, &h.AddrPending, &addrFirst, &lastDone,
		&startsAt, &endsAt}
	if peek {
		dest = append(dest, &e.Free, &e.Cancelled)
	}
	if err := row.Scan(dest...); err != nil {
		return Event{}, Holds{}, sqldb.Err(err)
	}
	e.OnSaleAt, e.StartsAt, e.EndsAt = fromMillis(onSale), fromMillis(startsAt), fromMillis(endsAt)
	h.UserFirstExpiry, h.AddrFirstExpiry, h.LastCancelled = fromMillis(userFirst), fromMillis(addrFirst), fromMillis(lastDone)
	return e, h, nil
}

// PeekEvent reads, outside any transaction, what a reservation by event
// is checked against, so that one bound to lose (not on sale yet, sold
// out, a limit) is answered without the writer. An event the replica has
// no ticket of is sqldb.ErrNotFound.
func (s *Store) PeekEvent(ctx context.Context, eventID, userID, addr string) (Event, Holds, error) {
	e, h, err := scanEvent(s.db.Read().QueryRowContext(ctx, peekEventQuery, eventID, userID, orNull(addr)), true)
	if err != nil {
		return Event{}, Holds{}, fmt.Errorf("peek event: %w", err)
	}
	return e, h, nil
}

// EventForReserve is PeekEvent's check inside tx, without the free and
// cancelled answers (PickFree gives them).
func (s *Store) EventForReserve(ctx context.Context, tx *sqldb.Tx, eventID, userID, addr string) (Event, Holds, error) {
	e, h, err := scanEvent(tx.QueryRowContext(ctx, eventForReserveQuery, eventID, userID, orNull(addr)), false)
	if err != nil {
		return Event{}, Holds{}, fmt.Errorf("event for reserve: %w", err)
	}
	return e, h, nil
}

// pickFreeQuery takes the first free ticket of event $1 from id $2 on
// (tickets_event_free) for order $3: it marks the ticket picked by the
// order and returns it, in one statement. On PostgreSQL the row is locked
// and locked rows are skipped, so buyers picking at once take different
// tickets instead of queueing on one; a row taken and released meanwhile
// is checked again at its latest version when locked (READ COMMITTED),
// and anything the statement's snapshot still missed is caught by
// InsertOrder's conflict.
const pickFreeQuery = `UPDATE tickets SET picked_order_id = $3
		WHERE id = (SELECT t.id FROM tickets t
			WHERE t.event_id = $1 AND t.status = 'on_sale' AND t.picked_order_id IS NULL AND t.id >= $2
			  AND NOT EXISTS (SELECT 1 FROM orders h WHERE h.ticket_id = t.id AND h.status IN ('created', 'awaiting:payment'))
			ORDER BY t.id LIMIT 1%s)
		RETURNING id, title, price, version, status, user_id, on_sale_at`

// pickFree is pickFreeQuery for engine e.
func pickFree(e sqldb.Engine) string {
	lock := ""
	if e == sqldb.Postgres {
		lock = ` FOR UPDATE OF t SKIP LOCKED`
	}
	return fmt.Sprintf(pickFreeQuery, lock)
}

// PickFree takes a free ticket of the event for orderID (see
// pickFreeQuery): the first from the id from on, or, when none is left
// there, the first of all; none at all is sqldb.ErrNotFound. The event's
// ticket ids are evenly spread (tickets derives them by hashing), so a
// random from spreads concurrent buyers. If the order then cannot be
// inserted, RestorePicked must undo the mark.
func (s *Store) PickFree(ctx context.Context, tx *sqldb.Tx, eventID, from, orderID string) (Ticket, error) {
	q := pickFree(tx.Engine())
	for _, start := range []string{from, ""} {
		var (
			t      Ticket
			onSale sql.NullInt64
		)
		err := sqldb.Err(tx.QueryRowContext(ctx, q, eventID, start, orderID).Scan(&t.ID, &t.Title, &t.Price, &t.Version,
			&t.Status, &t.UserID, &onSale))
		if errors.Is(err, sqldb.ErrNotFound) && start != "" {
			continue
		}
		if err != nil {
			return Ticket{}, fmt.Errorf("pick free ticket: %w", err)
		}
		t.EventID, t.OnSaleAt = eventID, fromMillis(onSale)
		return t, nil
	}
	return Ticket{}, fmt.Errorf("pick free ticket: %w", sqldb.ErrNotFound)
}

// RestorePicked gives a ticket PickFree marked for an order that then lost
// it (InsertOrder's conflict) the mark of the unpaid order that holds it.
func (s *Store) RestorePicked(ctx context.Context, tx *sqldb.Tx, ticketID string) error {
	const q = `UPDATE tickets SET picked_order_id = (SELECT h.id FROM orders h
		WHERE h.ticket_id = $1 AND h.status IN ('created', 'awaiting:payment')) WHERE id = $1`
	if _, err := tx.ExecContext(ctx, q, ticketID); err != nil {
		return fmt.Errorf("restore picked: %w", sqldb.Err(err))
	}
	return nil
}

// MarkPicked records, in the reservation's transaction, that orderID took
// the issued ticket ticketID (see tickets.picked_order_id). A ticket
// already marked keeps its mark: only the paid order of a ticket someone
// holds leaves one, and such a ticket, listed for resale (DESIGN.md 9.3),
// must stay out of the event's free stock when its resale order is
// cancelled (ClearPicked then finds another order's mark).
func (s *Store) MarkPicked(ctx context.Context, tx *sqldb.Tx, ticketID, orderID string) error {
	if _, err := tx.ExecContext(ctx, markPickedQuery, ticketID, orderID); err != nil {
		return fmt.Errorf("mark picked: %w", sqldb.Err(err))
	}
	return nil
}

const markPickedQuery = `UPDATE tickets SET picked_order_id = $2 WHERE id = $1 AND picked_order_id IS NULL`

// ClearPicked undoes MarkPicked when orderID, still the ticket's latest
// order, is cancelled; for any other ticket it changes nothing.
func (s *Store) ClearPicked(ctx context.Context, tx *sqldb.Tx, ticketID, orderID string) error {
	const q = `UPDATE tickets SET picked_order_id = NULL WHERE id = $1 AND picked_order_id = $2`
	if _, err := tx.ExecContext(ctx, q, ticketID, orderID); err != nil {
		return fmt.Errorf("clear picked: %w", sqldb.Err(err))
	}
	return nil
}

// ApplyEvent keeps sale_events at ev's version (event.created inserts the
// row, event.updated and event.cancelled apply version N on N−1, by the
// replica rule).
func (s *Store) ApplyEvent(ctx context.Context, tx *sqldb.Tx, ev events.EventState, created bool) (replica.Outcome, error) {
	if err := lockEvent(ctx, tx, ev.ID, false); err != nil {
		return replica.Outcome(0), err
	}
	set := replica.Set{"starts_at": millisOrNull(ev.StartsAt), "ends_at": millisOrNull(ev.EndsAt),
		"face_value": ev.FaceValue, "resale_cap_percent": int64(ev.ResaleCapPercent)}
	set["queue_until"] = queueUntil(ev) // queue.go
	if created {
		return replica.Insert(ctx, tx, "sale_events", ev.ID, ev.Version, set)
	}
	return replica.Apply(ctx, tx, "sale_events", ev.ID, ev.Version, set)
}

// lockSpaceEvent is the advisory-lock class of events (see lockSpaceAddr).
const lockSpaceEvent = 3

// lockEvent takes, until tx ends, the lock on eventID: shared for a
// reservation of one of its resale listings, exclusive for a change of
// its replica (ApplyEvent), so a change of the resale cap waits for the
// reservations that read the cap before it, and those after it read the
// new one. PostgreSQL needs it (READ COMMITTED lets a reservation read
// the old cap and commit after the new one); SQLite's writer is alone,
// so there it is a no-op. Shared locks do not wait on each other: a
// resale flash's buyers do not queue on their event.
func lockEvent(ctx context.Context, tx *sqldb.Tx, eventID string, shared bool) error {
	if tx.Engine() != sqldb.Postgres {
		return nil
	}
	q := `SELECT pg_advisory_xact_lock($1, hashtext($2))`
	if shared {
		q = `SELECT pg_advisory_xact_lock_shared($1, hashtext($2))`
	}
	if _, err := tx.ExecContext(ctx, q, lockSpaceEvent, eventID); err != nil {
		return fmt.Errorf("lock event: %w", sqldb.Err(err))
	}
	return nil
}

// ResaleCapForReserve takes the event's shared lock (lockEvent) and then
// reads its resale cap in force, 0 when orders has no face value of it.
func (s *Store) ResaleCapForReserve(ctx context.Context, tx *sqldb.Tx, eventID string) (money.Cents, error) {
	if err := lockEvent(ctx, tx, eventID, true); err != nil {
		return 0, err
	}
	var face, pct sql.NullInt64
	const q = `SELECT face_value, resale_cap_percent FROM sale_events WHERE id = $1`
	err := sqldb.Err(tx.QueryRowContext(ctx, q, eventID).Scan(&face, &pct))
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("resale cap: %w", err)
	}
	return resaleCap(face.Int64, pct.Int64), nil
}

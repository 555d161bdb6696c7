package shows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/textsearch"
)

// Store keeps events, the replica of their issued tickets and the counts
// of tickets left. Reads outside a transaction go to the read pool; every
// write runs in the caller's transaction, beside its outbox event.
type Store struct{ db *sqldb.DB }

// NewStore returns a Store over db (migrated with Migrations).
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// errStale means the row changed since it was read: its version moved on.
var errStale = errors.New("event changed since it was read")

// countSlots is how many rows an event's tickets-left count is spread
// over (see ticket_counts in migrations/00001_init.sql).
const countSlots = 8

// eventColumns are an event's columns; ticketsLeft and ticketsIssued are
// sums of its count slots, in the same query, so a page of events costs one
// statement.
const eventColumns = `e.id, e.organizer_id, e.name, e.venue, e.time_zone, e.starts_at, e.ends_at, e.on_sale_at,
	e.face_value, e.capacity, e.resale_cap_percent, e.transfers, e.queue, e.status, e.version, e.staff, e.created_at,
	(SELECT COALESCE(SUM(c.on_sale), 0) FROM ticket_counts c WHERE c.event_id = e.id),
	(SELECT COALESCE(SUM(c.issued), 0) FROM ticket_counts c WHERE c.event_id = e.id)`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(row scanner) (Event, error) {
	var (
		e                                   Event
		starts, ends, onSale, created, face int64
		status, staff                       string
	)
	if err := row.Scan(&e.ID, &e.OrganizerID, &e.Name, &e.Venue, &e.TimeZone, &starts, &ends, &onSale,
		&face, &e.Capacity, &e.ResaleCapPercent, &e.Transfers, &e.Queue, &status, &e.Version, &staff, &created,
		&e.TicketsLeft, &e.TicketsIssued); err != nil {
		return Event{}, sqldb.Err(err)
	}
	if err := json.Unmarshal([]byte(staff), &e.Staff); err != nil {
		return Event{}, fmt.Errorf("staff of event %s: %w", e.ID, err)
	}
	e.StartsAt, e.EndsAt, e.OnSaleAt = time.UnixMilli(starts).UTC(), time.UnixMilli(ends).UTC(), time.UnixMilli(onSale).UTC()
	e.CreatedAt = time.UnixMilli(created).UTC()
	e.FaceValue, e.Status = money.Cents(face), Status(status)
	return e, nil
}

// staffJSON is the staff column: never null, so a new event's is "[]".
func staffJSON(staff []string) string {
	if staff == nil {
		staff = []string{}
	}
	b, _ := json.Marshal(staff)
	return string(b)
}

// Get returns the event, or an error matching sqldb.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Event, error) {
	const q = `SELECT ` + eventColumns + ` FROM events e WHERE e.id = $1`
	ev, err := scanEvent(s.db.Read().QueryRowContext(ctx, q, id))
	if err != nil {
		return Event{}, fmt.Errorf("get event: %w", err)
	}
	return ev, nil
}

// GetForUpdate is Get inside tx and, on PostgreSQL, locks the event's row
// until tx ends, so two changes of one event take turns. (SQLite's writer
// is alone anyway.)
func (s *Store) GetForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (Event, error) {
	q := `SELECT ` + eventColumns + ` FROM events e WHERE e.id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE OF e`
	}
	ev, err := scanEvent(tx.QueryRowContext(ctx, q, id))
	if err != nil {
		return Event{}, fmt.Errorf("get event: %w", err)
	}
	return ev, nil
}

// ListUpcoming returns the scheduled events starting after l.Now, soonest
// first, as l asks.
func (s *Store) ListUpcoming(ctx context.Context, l Listing) ([]Event, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	q := `SELECT ` + eventColumns + ` FROM events e WHERE e.status = 'scheduled' AND e.starts_at > ` + arg(l.Now.UnixMilli())
	if ws := textsearch.Words(l.Search); len(ws) > 0 {
		// Each word goes to the engine as a quoted literal, never as query
		// syntax (see textsearch).
		if s.db.Engine() == sqldb.Postgres {
			q += ` AND e.search_tsv @@ to_tsquery('simple', ` + arg(textsearch.TSQuery(ws)) + `)`
		} else {
			q += ` AND e.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ` + arg(textsearch.FTS5Match(ws)) + `)`
		}
	}
	if l.After != "" {
		// Keyset paging on (starts_at, id); starts_at can be edited, so
		// the cursor carries the one the previous page ended on.
		q += ` AND (e.starts_at, e.id) > (` + arg(l.AfterStartsAt.UnixMilli()) + `, ` + arg(l.After) + `)`
	}
	q += ` ORDER BY e.starts_at, e.id`
	if l.Limit > 0 {
		q += ` LIMIT ` + arg(l.Limit)
	}
	return s.list(ctx, q, args...)
}

// ListByOrganizer returns the organizer's events, whatever their status,
// soonest first.
func (s *Store) ListByOrganizer(ctx context.Context, organizerID string) ([]Event, error) {
	const q = `SELECT ` + eventColumns + ` FROM events e WHERE e.organizer_id = $1 ORDER BY e.starts_at, e.id`
	return s.list(ctx, q, organizerID)
}

func (s *Store) list(ctx context.Context, q string, args ...any) ([]Event, error) {
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", sqldb.Err(err))
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", sqldb.Err(err))
	}
	return out, nil
}

// Insert adds a new event.
func (s *Store) Insert(ctx context.Context, tx *sqldb.Tx, e Event) error {
	const q = `INSERT INTO events (id, organizer_id, name, venue, search, time_zone, starts_at, ends_at, on_sale_at,
		face_value, capacity, resale_cap_percent, transfers, queue, status, version, staff, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`
	_, err := tx.ExecContext(ctx, q, e.ID, e.OrganizerID, e.Name, e.Venue, textsearch.Text(e.Name, e.Venue), e.TimeZone,
		e.StartsAt.UnixMilli(), e.EndsAt.UnixMilli(), e.OnSaleAt.UnixMilli(), int64(e.FaceValue), e.Capacity,
		e.ResaleCapPercent, e.Transfers, e.Queue, string(e.Status), e.Version, staffJSON(e.Staff), e.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("insert event: %w", sqldb.Err(err))
	}
	return nil
}

// Update writes e over the row only if the row is still at readVersion;
// otherwise it returns errStale and writes nothing.
func (s *Store) Update(ctx context.Context, tx *sqldb.Tx, e Event, readVersion int64) error {
	const q = `UPDATE events SET name = $1, venue = $2, search = $3, time_zone = $4, starts_at = $5, ends_at = $6,
		on_sale_at = $7, face_value = $8, resale_cap_percent = $9, transfers = $10, queue = $11, status = $12,
		version = $13, staff = $14 WHERE id = $15 AND version = $16`
	res, err := tx.ExecContext(ctx, q, e.Name, e.Venue, textsearch.Text(e.Name, e.Venue), e.TimeZone,
		e.StartsAt.UnixMilli(), e.EndsAt.UnixMilli(), e.OnSaleAt.UnixMilli(), int64(e.FaceValue), e.ResaleCapPercent,
		e.Transfers, e.Queue, string(e.Status), e.Version, staffJSON(e.Staff), e.ID, readVersion)
	if err != nil {
		return fmt.Errorf("update event: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	if n == 0 {
		return errStale
	}
	return nil
}

// TicketOnSale reads whether the replica counts the issued ticket id as
// on sale, and its version, locking its row on PostgreSQL until tx ends:
// two deliveries of one ticket's events take turns, so the count moves by
// what the version applied changed. found is false for a ticket not in the
// replica yet.
func (s *Store) TicketOnSale(ctx context.Context, tx *sqldb.Tx, id string) (onSale, found bool, err error) {
	q := `SELECT on_sale FROM event_tickets WHERE id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	err = sqldb.Err(tx.QueryRowContext(ctx, q, id).Scan(&onSale))
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("read event ticket: %w", err)
	}
	return onSale, true, nil
}

// InsertTicket adds an issued ticket to the replica at version
// (ticket.created); one already there is replica.Duplicate.
func (s *Store) InsertTicket(ctx context.Context, tx *sqldb.Tx, t IssuedTicket) (replica.Outcome, error) {
	return replica.Insert(ctx, tx, "event_tickets", t.ID, t.Version, replica.Set{"event_id": t.EventID, "on_sale": t.OnSale})
}

// ApplyTicket applies version t.Version of an issued ticket on top of
// t.Version-1 (replica.Apply).
func (s *Store) ApplyTicket(ctx context.Context, tx *sqldb.Tx, t IssuedTicket) (replica.Outcome, error) {
	return replica.Apply(ctx, tx, "event_tickets", t.ID, t.Version, replica.Set{"on_sale": t.OnSale})
}

// AddTicketCounts adds onSale to the event's tickets left and issued to
// its tickets issued, in the slot of ticketID.
func (s *Store) AddTicketCounts(ctx context.Context, tx *sqldb.Tx, eventID, ticketID string, onSale, issued int) error {
	h := fnv.New32a()
	h.Write([]byte(ticketID))
	const q = `INSERT INTO ticket_counts (event_id, slot, on_sale, issued) VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id, slot) DO UPDATE SET on_sale = ticket_counts.on_sale + excluded.on_sale,
			issued = ticket_counts.issued + excluded.issued`
	if _, err := tx.ExecContext(ctx, q, eventID, int(h.Sum32()%countSlots), onSale, issued); err != nil {
		return fmt.Errorf("count tickets left: %w", sqldb.Err(err))
	}
	return nil
}

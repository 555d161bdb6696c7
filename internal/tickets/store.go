package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/textsearch"
)

// Store keeps tickets in the service's database. Reads outside a
// transaction go to the read pool; every write runs in the caller's
// transaction, beside its outbox event.
type Store struct {
	db *sqldb.DB
	// manyMatches is how many matches make a search common enough for
	// SQLite to walk the list rather than sort the matches (see
	// matchWords; docs/PERFORMANCE.md).
	manyMatches int
}

// NewStore returns a Store over db (migrated with Migrations). Its
// statements go by their text, and each connection keeps them compiled
// (sqldb's statement cache on SQLite, pgx's on PostgreSQL).
func NewStore(db *sqldb.DB) *Store {
	return &Store{db: db, manyMatches: 1000}
}

const getTicketQuery = `SELECT ` + ticketColumns + ` FROM tickets WHERE id = $1`

// forUpdate adds PostgreSQL's row lock to q (SQLite's writer is alone).
func forUpdate(e sqldb.Engine, q string) string {
	if e == sqldb.Postgres {
		return q + ` FOR UPDATE`
	}
	return q
}

// errStale means the row changed since it was read: its version moved on.
var errStale = errors.New("ticket changed since it was read")

const ticketColumns = `id, title, price, user_id, version, order_id, created_at, edited_version, status, sold_at,
	event_id, on_sale_at, holder_id, code_version, withdrawn_reason, withdrawn_cap`

// listed is the condition that a ticket is a listing, offered for resale:
// a free-form listing, or an issued ticket a holder has; an event's unsold
// stock is not (it shows on its event). The partial indexes of the list
// repeat it word for word, as SQLite matches them only so.
const listed = `(event_id IS NULL OR holder_id IS NOT NULL)`

type scanner interface{ Scan(dest ...any) error }

func scanTicket(row scanner) (Ticket, error) {
	var (
		t       Ticket
		price   int64
		orderID sql.NullString
		created int64
		status  string
		soldAt  sql.NullInt64
		eventID sql.NullString
		onSale  sql.NullInt64
		holder  sql.NullString
		reason  sql.NullString
		capped  sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Title, &price, &t.UserID, &t.Version, &orderID, &created, &t.EditedVersion,
		&status, &soldAt, &eventID, &onSale, &holder, &t.CodeVersion, &reason, &capped); err != nil {
		return Ticket{}, sqldb.Err(err)
	}
	t.WithdrawnReason, t.WithdrawnCap = reason.String, money.Cents(capped.Int64)
	t.EventID, t.HolderID = eventID.String, holder.String
	if onSale.Valid {
		t.OnSaleAt = time.UnixMilli(onSale.Int64).UTC()
	}
	t.Status = Status(status)
	if soldAt.Valid {
		t.SoldAt = time.UnixMilli(soldAt.Int64).UTC()
	}
	t.Price = money.Cents(price)
	t.OrderID = orderID.String
	t.CreatedAt = time.UnixMilli(created).UTC()
	return t, nil
}

// nullable stores "" as NULL, so "no order" is one value in the database.
func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Get returns the ticket, or an error matching sqldb.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Ticket, error) {
	const q = `SELECT ` + ticketColumns + ` FROM tickets WHERE id = $1`
	t, err := scanTicket(s.db.Read().QueryRowContext(ctx, q, id))
	if err != nil {
		return Ticket{}, fmt.Errorf("get ticket: %w", err)
	}
	return t, nil
}

// GetForUpdate is Get inside tx and, on PostgreSQL, locks the row until tx
// ends, so the write that follows is based on what the transaction read
// and two changes of one ticket take turns. Without the lock, a
// reservation and its order's cancellation could each read the ticket
// before the other committed, and the reservation land after the
// cancellation found nothing to release. (SQLite's writer is alone anyway.)
func (s *Store) GetForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (Ticket, error) {
	t, err := scanTicket(tx.QueryRowContext(ctx, forUpdate(tx.Engine(), getTicketQuery), id))
	if err != nil {
		return Ticket{}, fmt.Errorf("get ticket: %w", err)
	}
	return t, nil
}

// ListOnSale returns the tickets no order holds, in l's order, as l asks.
func (s *Store) ListOnSale(ctx context.Context, l Listing) ([]Ticket, error) {
	q := `SELECT ` + ticketColumns + ` FROM tickets WHERE order_id IS NULL AND status = 'on_sale' AND ` + listed
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if l.EventID != "" {
		// holder_id IS NOT NULL, as its own term, matches the partial
		// indexes tickets_event_resale(_price).
		q += ` AND event_id = ` + arg(l.EventID) + ` AND holder_id IS NOT NULL`
	}
	if ws := textsearch.Words(l.Search); len(ws) > 0 {
		cond, err := s.matchWords(ctx, arg, ws)
		if err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		q += ` AND ` + cond
	}
	// Keyset paging: what comes after the cursor ticket in the list's
	// order, so tickets listed or reserved meanwhile neither repeat nor
	// hide others. Each order has its index (tickets_on_sale,
	// tickets_on_sale_price) and a unique tie-break on id.
	switch l.Sort {
	case SortPriceAsc, SortPriceDesc:
		// The price is mutable, so the cursor carries the one the previous
		// page ended on rather than looking it up again.
		if l.After != "" {
			op := ">"
			if l.Sort == SortPriceDesc {
				op = "<"
			}
			q += ` AND (price, id) ` + op + ` (` + arg(int64(l.AfterPrice)) + `, ` + arg(l.After) + `)`
		}
		if l.Sort == SortPriceAsc {
			q += ` ORDER BY price, id`
		} else {
			q += ` ORDER BY price DESC, id DESC`
		}
	default:
		if l.After != "" {
			// created_at never changes, so the cursor ticket's own is
			// looked up, even if that ticket has since been reserved. An
			// unknown cursor matches nothing.
			q += ` AND (created_at, id) < (SELECT created_at, id FROM tickets WHERE id = ` + arg(l.After) + `)`
		}
		q += ` ORDER BY created_at DESC, id DESC`
	}
	if l.Limit > 0 {
		q += ` LIMIT ` + arg(l.Limit)
	}
	return s.list(ctx, q, args...)
}

// matchWords is the condition that the title holds every one of ws (folded
// words, see searchWords) as a word or the start of one. Each word goes to
// the engine as a quoted literal, never as query syntax: FTS5's NEAR, OR,
// "-" or "*" and tsquery's "&", "!" or ":" in a search are plain text (and
// searchWords has already made them separators).
func (s *Store) matchWords(ctx context.Context, arg func(any) string, ws []string) (string, error) {
	if s.db.Engine() == sqldb.Postgres {
		// 'w1':* & 'w2':* — a quoted lexeme with a prefix match. Within
		// quotes a quote is doubled and a backslash escapes. The planner
		// knows from its statistics of title_tsv whether to walk the
		// list's index testing each row (many matches) or to take the
		// matches from the GIN index and sort them (few).
		return `title_tsv @@ to_tsquery('simple', ` + arg(textsearch.TSQuery(ws)) + `)`, nil
	}
	// "w1"* "w2"* — FTS5 strings with a prefix match, implicitly ANDed.
	match := textsearch.FTS5Match(ws)
	// SQLite's planner cannot tell how many tickets a search matches, and
	// always fetches every match by rowid and sorts them: 50,000 lookups
	// for one common word in a million tickets. So ask FTS5 first, up to a
	// bound: when the matches are many, a "+" keeps the planner from
	// driving the query by them, and it walks the list's own index
	// instead, testing each ticket against the matches, until the page is
	// full (a few thousand steps at most for a search this common).
	const q = `SELECT count(*) FROM (SELECT 1 FROM tickets_fts WHERE tickets_fts MATCH $1 LIMIT $2)`
	var n int
	if err := s.db.Read().QueryRowContext(ctx, q, match, s.manyMatches).Scan(&n); err != nil {
		return "", fmt.Errorf("count matches: %w", sqldb.Err(err))
	}
	column := "rowid"
	if n >= s.manyMatches {
		column = "+rowid"
	}
	return column + ` IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ` + arg(match) + `)`, nil
}

// ListMine returns the free-form tickets userID listed, whatever their
// status, and the issued tickets userID holds, newest first. An
// organizer's issued tickets, sold or not, are not among them (an event
// may have 100,000): the event shows them. The page continues after the
// ticket after (keyset paging, as ListOnSale's newest order: created_at
// never changes, so the cursor's own is looked up; an unknown cursor
// matches nothing) and holds at most limit tickets when limit > 0.
func (s *Store) ListMine(ctx context.Context, userID, after string, limit int) ([]Ticket, error) {
	args := []any{userID}
	page := ``
	if after != "" {
		args = append(args, after)
		page = ` AND (created_at, id) < (SELECT created_at, id FROM tickets WHERE id = $2)`
	}
	// Each side of the union keeps to its own index (user_id, holder_id).
	q := `SELECT ` + ticketColumns + ` FROM tickets WHERE user_id = $1 AND event_id IS NULL` + page + `
		UNION SELECT ` + ticketColumns + ` FROM tickets WHERE holder_id = $1` + page + `
		ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	return s.list(ctx, q, args...)
}

func (s *Store) list(ctx context.Context, q string, args ...any) ([]Ticket, error) {
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", sqldb.Err(err))
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tickets: %w", sqldb.Err(err))
	}
	return out, nil
}

// Insert adds a new ticket; one without a status is on sale.
func (s *Store) Insert(ctx context.Context, tx *sqldb.Tx, t Ticket) error {
	if t.Status == "" {
		t.Status = StatusOnSale
	}
	_, err := tx.ExecContext(ctx, insertQuery, insertArgs(t)...)
	if err != nil {
		return fmt.Errorf("insert ticket: %w", sqldb.Err(err))
	}
	return nil
}

const insertQuery = `INSERT INTO tickets (id, title, title_search, price, user_id, version, order_id, created_at,
		edited_version, status, event_id, on_sale_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func insertArgs(t Ticket) []any {
	return []any{t.ID, t.Title, textsearch.Text(t.Title), int64(t.Price), t.UserID, t.Version, nullable(t.OrderID),
		t.CreatedAt.UnixMilli(), t.EditedVersion, string(t.Status), nullable(t.EventID), millis(t.OnSaleAt)}
}

// millis stores a time as unix ms, the zero time as NULL.
func millis(at time.Time) sql.NullInt64 {
	if at.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: at.UnixMilli(), Valid: true}
}

// InsertMany adds new tickets (a chunk of an event's), the one statement
// compiled once.
func (s *Store) InsertMany(ctx context.Context, tx *sqldb.Tx, ts []Ticket) error {
	for _, t := range ts {
		if _, err := tx.ExecContext(ctx, insertQuery, insertArgs(t)...); err != nil {
			return fmt.Errorf("insert ticket: %w", sqldb.Err(err))
		}
	}
	return nil
}

// lockSpaceSeller is the advisory-lock class (the first key of
// PostgreSQL's two-key form) of sellers, apart from every other kind of
// key that services sharing the database lock.
const lockSpaceSeller = 2

// LockSeller serialises, until tx ends, the new listings of one seller, so
// two concurrent ones cannot both pass the MaxListings count. PostgreSQL
// needs it (READ COMMITTED lets both count before either inserts); SQLite
// has one writer at a time, so there it is a no-op and costs no round trip.
func (s *Store) LockSeller(ctx context.Context, tx *sqldb.Tx, userID string) error {
	if tx.Engine() != sqldb.Postgres {
		return nil
	}
	// hashtext collisions only make two sellers take turns, never wrong.
	const q = `SELECT pg_advisory_xact_lock($1, hashtext($2))`
	if _, err := tx.ExecContext(ctx, q, lockSpaceSeller, userID); err != nil {
		return fmt.Errorf("lock seller: %w", sqldb.Err(err))
	}
	return nil
}

// CountLive counts the seller's live listings, on sale or reserved: their
// free-form listings (from the partial index tickets_live_seller, so at
// most MaxListings entries are read) and the issued tickets they hold and
// list for resale (tickets_holder). An issued ticket's user_id stays its
// organizer's, whom a holder's listing must not count against.
func (s *Store) CountLive(ctx context.Context, tx *sqldb.Tx, userID string) (int, error) {
	const q = `SELECT (SELECT count(*) FROM tickets WHERE user_id = $1 AND status IN ('on_sale', 'reserved') AND ` + listed + `
			AND event_id IS NULL)
		+ (SELECT count(*) FROM tickets WHERE holder_id = $1 AND status IN ('on_sale', 'reserved'))`
	var n int
	if err := tx.QueryRowContext(ctx, q, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count on sale: %w", sqldb.Err(err))
	}
	return n, nil
}

// Update writes t over the row only if the row is still at readVersion, the
// version t was read at; otherwise it returns errStale and writes nothing.
// This is the optimistic lock: of two writers that read the same version,
// only one moves it on.
func (s *Store) Update(ctx context.Context, tx *sqldb.Tx, t Ticket, readVersion int64) error {
	const q = `UPDATE tickets SET title = $1, title_search = $2, price = $3, version = $4, order_id = $5,
		edited_version = $6, status = $7, sold_at = $8, holder_id = $11, code_version = $12, on_sale_at = $13,
		withdrawn_reason = $14, withdrawn_cap = $15
		WHERE id = $9 AND version = $10`
	var capped sql.NullInt64
	if t.WithdrawnReason != "" {
		capped = sql.NullInt64{Int64: int64(t.WithdrawnCap), Valid: true}
	}
	res, err := tx.ExecContext(ctx, q, t.Title, textsearch.Text(t.Title), int64(t.Price),
		t.Version, nullable(t.OrderID), t.EditedVersion, string(t.Status), millis(t.SoldAt), t.ID, readVersion,
		nullable(t.HolderID), t.CodeVersion, millis(t.OnSaleAt), nullable(t.WithdrawnReason), capped)
	if err != nil {
		return fmt.Errorf("update ticket: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update ticket: %w", err)
	}
	if n == 0 {
		return errStale
	}
	return nil
}

// RecordRelease notes that orderID's cancellation was handled. Recording it
// again is a no-op.
func (s *Store) RecordRelease(ctx context.Context, tx *sqldb.Tx, orderID, ticketID string, at time.Time) error {
	const q = `INSERT INTO released_orders (order_id, ticket_id, released_at) VALUES ($1, $2, $3)
		ON CONFLICT (order_id) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, orderID, ticketID, at.UnixMilli()); err != nil {
		return fmt.Errorf("record release: %w", sqldb.Err(err))
	}
	return nil
}

// RecordRefusal notes that orderID was refused ticketID. A second refusal
// of the same order is sqldb.ErrConflict: the caller's transaction, and
// the event it carries, roll back.
func (s *Store) RecordRefusal(ctx context.Context, tx *sqldb.Tx, orderID, ticketID, reason string, at time.Time) error {
	const q = `INSERT INTO refused_orders (order_id, ticket_id, reason, refused_at) VALUES ($1, $2, $3, $4)`
	if _, err := tx.ExecContext(ctx, q, orderID, ticketID, reason, at.UnixMilli()); err != nil {
		return fmt.Errorf("record refusal: %w", sqldb.Err(err))
	}
	return nil
}

// RecordSale notes that orderID's payment sold it ticketID (or made its
// buyer the holder). Recording it again is a no-op.
func (s *Store) RecordSale(ctx context.Context, tx *sqldb.Tx, orderID, ticketID string, at time.Time) error {
	const q = `INSERT INTO sold_orders (order_id, ticket_id, sold_at) VALUES ($1, $2, $3)
		ON CONFLICT (order_id) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, orderID, ticketID, at.UnixMilli()); err != nil {
		return fmt.Errorf("record sale: %w", sqldb.Err(err))
	}
	return nil
}

// Settled reports whether orderID is done with as far as reserving goes:
// its cancellation was handled, its reservation was refused, or it was
// paid and its sale applied (the ticket may have moved on since: listed,
// resold). One statement for all, as it runs on every order.created.
func (s *Store) Settled(ctx context.Context, tx *sqldb.Tx, orderID string) (bool, error) {
	const q = `SELECT 1 FROM released_orders WHERE order_id = $1
		UNION ALL SELECT 1 FROM refused_orders WHERE order_id = $1
		UNION ALL SELECT 1 FROM sold_orders WHERE order_id = $1 LIMIT 1`
	var one int
	switch err := sqldb.Err(tx.QueryRowContext(ctx, q, orderID).Scan(&one)); {
	case err == nil:
		return true, nil
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("settled: %w", err)
	}
}

// Stock is how far the issuing of an event's tickets has come.
type Stock struct {
	Capacity  int
	Issued    int
	Cancelled bool
}

// StartStock records that an event's Capacity tickets are to be issued;
// an event already recorded (a redelivered event.created, or one its
// event.cancelled overtook) is left as it is.
func (s *Store) StartStock(ctx context.Context, tx *sqldb.Tx, eventID string, capacity int) error {
	const q = `INSERT INTO event_stock (event_id, capacity, issued) VALUES ($1, $2, 0)
		ON CONFLICT (event_id) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, eventID, capacity); err != nil {
		return fmt.Errorf("start stock: %w", sqldb.Err(err))
	}
	return nil
}

// StockForUpdate reads an event's issuing progress inside tx and, on
// PostgreSQL, locks it until tx ends, so two deliveries of one
// event.created issue each chunk once, and a cancellation waits for the
// chunk being issued.
func (s *Store) StockForUpdate(ctx context.Context, tx *sqldb.Tx, eventID string) (Stock, error) {
	q := `SELECT capacity, issued, cancelled_at FROM event_stock WHERE event_id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	var (
		st        Stock
		cancelled sql.NullInt64
	)
	if err := tx.QueryRowContext(ctx, q, eventID).Scan(&st.Capacity, &st.Issued, &cancelled); err != nil {
		return Stock{}, fmt.Errorf("stock: %w", sqldb.Err(err))
	}
	st.Cancelled = cancelled.Valid
	return st, nil
}

// SetIssued records how many of an event's tickets are issued.
func (s *Store) SetIssued(ctx context.Context, tx *sqldb.Tx, eventID string, issued int) error {
	const q = `UPDATE event_stock SET issued = $2 WHERE event_id = $1`
	if _, err := tx.ExecContext(ctx, q, eventID, issued); err != nil {
		return fmt.Errorf("set issued: %w", sqldb.Err(err))
	}
	return nil
}

// CancelStock records that the event was cancelled, so no more of its
// tickets are issued; an event.cancelled before its event.created records
// an event with nothing to issue. Recording it again keeps the first time.
func (s *Store) CancelStock(ctx context.Context, tx *sqldb.Tx, eventID string, at time.Time) error {
	const q = `INSERT INTO event_stock (event_id, capacity, issued, cancelled_at) VALUES ($1, 0, 0, $2)
		ON CONFLICT (event_id) DO UPDATE SET cancelled_at = COALESCE(event_stock.cancelled_at, excluded.cancelled_at)`
	if _, err := tx.ExecContext(ctx, q, eventID, at.UnixMilli()); err != nil {
		return fmt.Errorf("cancel stock: %w", sqldb.Err(err))
	}
	return nil
}

// EventTicketsForUpdate reads, inside tx, up to limit tickets of the event
// after the id after, in id order (the index tickets_event), and on
// PostgreSQL locks them until tx ends, so each change takes turns with
// the ticket's other changes (see GetForUpdate).
func (s *Store) EventTicketsForUpdate(ctx context.Context, tx *sqldb.Tx, eventID, after string, limit int) ([]Ticket, error) {
	q := `SELECT ` + ticketColumns + ` FROM tickets WHERE event_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	rows, err := tx.QueryContext(ctx, q, eventID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("event tickets: %w", sqldb.Err(err))
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("event tickets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event tickets: %w", sqldb.Err(err))
	}
	return out, nil
}

// AddEntryCode records the short form of ticketID's code codeVersion. It
// reports false, writing nothing, when another code already has that short
// form (ON CONFLICT DO NOTHING, so the transaction goes on either way).
// Recording the same code again is true.
func (s *Store) AddEntryCode(ctx context.Context, tx *sqldb.Tx, short, ticketID string, codeVersion int64) (bool, error) {
	const q = `INSERT INTO entry_codes (short, ticket_id, code_version) VALUES ($1, $2, $3)
		ON CONFLICT (short) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, short, ticketID, codeVersion)
	if err != nil {
		return false, fmt.Errorf("add entry code: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add entry code: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	const own = `SELECT 1 FROM entry_codes WHERE short = $1 AND ticket_id = $2 AND code_version = $3`
	var one int
	switch err := sqldb.Err(tx.QueryRowContext(ctx, own, short, ticketID, codeVersion).Scan(&one)); {
	case err == nil:
		return true, nil
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("add entry code: %w", err)
	}
}

const entryCodeQuery = `SELECT ticket_id, code_version FROM entry_codes WHERE short = $1`

// EntryCode returns the ticket and codeVersion of a short form, or an error
// matching sqldb.ErrNotFound.
func (s *Store) EntryCode(ctx context.Context, short string) (ticketID string, codeVersion int64, err error) {
	if err := s.db.Read().QueryRowContext(ctx, entryCodeQuery, short).Scan(&ticketID, &codeVersion); err != nil {
		return "", 0, fmt.Errorf("entry code: %w", sqldb.Err(err))
	}
	return ticketID, codeVersion, nil
}

const doorEventQuery = `SELECT id, version, organizer_id, staff, status, starts_at, ends_at, face_value, resale_cap_percent, transfers FROM door_events WHERE id = $1`

// DoorEvent returns the replica of an event, or an error matching
// sqldb.ErrNotFound.
func (s *Store) DoorEvent(ctx context.Context, id string) (DoorEvent, error) {
	return scanDoorEvent(s.db.Read().QueryRowContext(ctx, doorEventQuery, id))
}

// DoorEventTx is DoorEvent read inside tx: after the ticket's lock, so
// that a cap the organizer lowered meanwhile is seen (see ListForResale).
func (s *Store) DoorEventTx(ctx context.Context, tx *sqldb.Tx, id string) (DoorEvent, error) {
	return scanDoorEvent(tx.QueryRowContext(ctx, doorEventQuery, id))
}

func scanDoorEvent(row *sql.Row) (DoorEvent, error) {
	var (
		e            DoorEvent
		staff        string
		starts, ends sql.NullInt64
		faceValue    int64
	)
	if err := row.Scan(&e.ID, &e.Version, &e.OrganizerID, &staff, &e.Status,
		&starts, &ends, &faceValue, &e.ResaleCapPercent, &e.Transfers); err != nil {
		return DoorEvent{}, fmt.Errorf("door event: %w", sqldb.Err(err))
	}
	if starts.Valid {
		e.StartsAt = time.UnixMilli(starts.Int64).UTC()
	}
	if ends.Valid {
		e.EndsAt = time.UnixMilli(ends.Int64).UTC()
	}
	if staff != "" {
		e.Staff = strings.Split(staff, "\n")
	}
	e.FaceValue = money.Cents(faceValue)
	return e, nil
}

// DoorEventVersion reads, inside tx, the version of the event's replica,
// and on PostgreSQL locks its row until tx ends, so a later version's
// replica write waits for tx (SQLite's writer is alone anyway). An event
// with no replica is sqldb.ErrNotFound.
func (s *Store) DoorEventVersion(ctx context.Context, tx *sqldb.Tx, eventID string) (int64, error) {
	q := `SELECT version FROM door_events WHERE id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	var v int64
	if err := tx.QueryRowContext(ctx, q, eventID).Scan(&v); err != nil {
		return 0, fmt.Errorf("door event version: %w", sqldb.Err(err))
	}
	return v, nil
}

// CheckedInAt returns when ticketID was admitted, and whether it was.
func (s *Store) CheckedInAt(ctx context.Context, tx *sqldb.Tx, ticketID string) (time.Time, bool, error) {
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT checked_in_at FROM checkins WHERE ticket_id = $1`, ticketID).Scan(&at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("check-in of %s: %w", ticketID, sqldb.Err(err))
	}
	return time.UnixMilli(at).UTC(), true, nil
}

const addCheckInQuery = `INSERT INTO checkins (ticket_id, event_id, code_version, by_user_id, by_email, checked_in_at)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket_id) DO NOTHING`

// TicketForCheckIn is GetForUpdate with the statement compiled once.
func (s *Store) TicketForCheckIn(ctx context.Context, tx *sqldb.Tx, id string) (Ticket, error) {
	t, err := scanTicket(tx.QueryRowContext(ctx, forUpdate(tx.Engine(), getTicketQuery), id))
	if err != nil {
		return Ticket{}, fmt.Errorf("get ticket: %w", err)
	}
	return t, nil
}

// AddCheckIn admits t, scanned by user at now, unless it was admitted
// before: it reports whether this call admitted it and when the ticket was
// admitted (now, or the first time). The primary key on the ticket makes
// the second of two concurrent admissions find the first, on both
// engines, whatever else locks.
func (s *Store) AddCheckIn(ctx context.Context, tx *sqldb.Tx, t Ticket, user session.User, now time.Time) (bool, time.Time, error) {
	args := []any{t.ID, t.EventID, t.CodeVersion, user.ID, strings.ToLower(user.Email), now.UnixMilli()}
	res, err := tx.ExecContext(ctx, addCheckInQuery, args...)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("add check-in: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("add check-in: %w", err)
	}
	if n == 1 {
		return true, now, nil
	}
	var at int64
	const first = `SELECT checked_in_at FROM checkins WHERE ticket_id = $1`
	if err := tx.QueryRowContext(ctx, first, t.ID).Scan(&at); err != nil {
		return false, time.Time{}, fmt.Errorf("check-in of %s: %w", t.ID, sqldb.Err(err))
	}
	return false, time.UnixMilli(at).UTC(), nil
}

package tickets

import (
	"context"
	"crypto/ed25519"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables; open the database with it and
// outbox.Migrations.
var Migrations = sqldb.EmbeddedMigrations(Name, migrations)

var (
	// ErrNotFound is an unknown (or malformed) ticket id.
	ErrNotFound = fault.New(fault.NotFound, "Ticket not found")
	// ErrChanged is an edit that lost the race for the ticket twice in a
	// row (see change): the caller should reload and try again.
	ErrChanged = fault.Coded(fault.Invalid, "ticket_changed", "The ticket was changed meanwhile; reload it and try again")
	// ErrBadCursor is an after= that no ticket id looks like.
	ErrBadCursor = &fault.Error{Kind: fault.Invalid, Field: "after", Message: "after must be the cursor of the previous page (its last ticket)"}
	// ErrBadSort is a sort= that names no order.
	ErrBadSort = &fault.Error{Kind: fault.Invalid, Field: "sort", Message: "sort must be newest, price_asc or price_desc"}
	// ErrTooManyListings is a seller who already has MaxListings live
	// listings. It carries no Retry-After: a listing leaves sale when
	// someone buys it, which no one can predict.
	ErrTooManyListings = fault.Coded(fault.TooMany, "too_many_listings", "You already have the most tickets on sale allowed; list more once some have sold")
)

// DefaultMaxListings is Config.MaxListings' default.
const DefaultMaxListings = 200

// Listing says which tickets on sale to list.
type Listing struct {
	// Search keeps the tickets whose title holds every word of it, in any
	// order, as a word or the start of one, ignoring case and accents.
	Search string
	// EventID, when not "", keeps the resale listings of that event
	// (holders' tickets on sale; its own stock shows on the event).
	EventID string
	// Sort is the order of the list; "" is SortNewest.
	Sort Sort
	// After, a ticket id, starts the list after that ticket (the last one
	// of the previous page), in Sort's order. For the price orders
	// AfterPrice is the price that ticket was listed at on that page.
	After      string
	AfterPrice money.Cents
	// Limit is the most tickets returned; 0 means all.
	Limit int
}

// Sort is an order of the list of tickets on sale.
type Sort string

const (
	SortNewest    Sort = "newest"     // newest first
	SortPriceAsc  Sort = "price_asc"  // cheapest first
	SortPriceDesc Sort = "price_desc" // dearest first
)

// Valid reports whether s is one of the orders.
func (s Sort) Valid() bool {
	return s == SortNewest || s == SortPriceAsc || s == SortPriceDesc
}

// Config tunes the service. Zero values get defaults.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxListings is how many tickets one seller may have on sale at once
	// (MAX_LISTINGS); default DefaultMaxListings.
	MaxListings int
	// Chunk is how many of an event's tickets one transaction issues or
	// takes off sale; default DefaultChunk.
	Chunk int
	// SigningKey signs holders' entry codes (TICKET_SIGNING_KEY, or the
	// key up generates into its data dir). Nil gets a random key, good
	// for one process's tests only: codes would not outlive it.
	SigningKey ed25519.PrivateKey
}

// Service lists, edits, reserves and releases tickets. Every change is
// written with its event in one transaction.
type Service struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	log   *slog.Logger
	now   func() time.Time
	// maxListings bounds a seller's tickets on sale.
	maxListings int
	// chunk is Config.Chunk.
	chunk int
	// key signs entry codes.
	key ed25519.PrivateKey
}

// New returns the service over db (opened with Migrations and
// outbox.Migrations), publishing through ob.
func New(db *sqldb.DB, ob *outbox.Outbox, log *slog.Logger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxListings <= 0 {
		cfg.MaxListings = DefaultMaxListings
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = DefaultChunk
	}
	if cfg.SigningKey == nil {
		_, cfg.SigningKey, _ = ed25519.GenerateKey(nil)
	}
	return &Service{db: db, store: NewStore(db), ob: ob, log: log, now: cfg.Now, maxListings: cfg.MaxListings,
		chunk: cfg.Chunk, key: cfg.SigningKey}
}

// List returns the tickets on sale, filtered, sorted and paged as l asks. A cursor that cannot be a ticket id is ErrBadCursor; one that names
// no ticket gives an empty page.
func (s *Service) List(ctx context.Context, l Listing) ([]Ticket, error) {
	if l.Sort == "" {
		l.Sort = SortNewest
	}
	if !l.Sort.Valid() {
		return nil, ErrBadSort
	}
	if l.After != "" && !ids.Valid(l.After) {
		return nil, ErrBadCursor
	}
	if l.EventID != "" && !ids.Valid(l.EventID) {
		return nil, ErrBadEventID
	}
	return s.store.ListOnSale(ctx, l)
}

// Mine returns the tickets userID listed, whatever their status, and the
// tickets userID holds, newest first (the seller's "My listings", the
// buyer's tickets). An organizer's unsold stock is not there: its event
// shows it. after, when not "", is the last ticket of the previous page
// (ErrBadCursor if it cannot be a ticket id; one that names no ticket gives
// an empty page); limit, when above 0, bounds the page.
func (s *Service) Mine(ctx context.Context, userID, after string, limit int) ([]Ticket, error) {
	if after != "" && !ids.Valid(after) {
		return nil, ErrBadCursor
	}
	return s.store.ListMine(ctx, userID, after, limit)
}

// Get returns one ticket or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Ticket, error) {
	if !ids.Valid(id) {
		return Ticket{}, ErrNotFound
	}
	t, err := s.store.Get(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Ticket{}, ErrNotFound
	}
	return t, err
}

// Create lists a new ticket for userID at version 0 and announces it, unless
// the seller already has maxListings tickets on sale (ErrTooManyListings):
// free accounts must not be able to flood the list without end.
func (s *Service) Create(ctx context.Context, userID string, f Fields) (Ticket, error) {
	if err := f.Validate(); err != nil {
		return Ticket{}, err
	}
	t := Ticket{
		ID:        uuid.Must(uuid.NewV7()).String(),
		Title:     f.Title,
		Price:     f.Price,
		UserID:    userID,
		Version:   0,
		Status:    StatusOnSale,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond),
	}
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.roomForListing(ctx, tx, userID); err != nil {
			return err
		}
		if err := s.store.Insert(ctx, tx, t); err != nil {
			return err
		}
		return s.ob.Add(ctx, tx, events.TicketCreated{
			ID: t.ID, Version: t.Version, Title: t.Title, Price: int64(t.Price), UserID: t.UserID,
			Status: string(t.Status),
		})
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	return t, nil
}

// Update applies the seller's new fields: ErrNotFound, ErrNotOwner,
// ErrReserved, validation problems, or ErrChanged after a lost race.
func (s *Service) Update(ctx context.Context, userID, id string, f Fields) (Ticket, error) {
	if err := f.Validate(); err != nil {
		return Ticket{}, err
	}
	if !ids.Valid(id) {
		return Ticket{}, ErrNotFound
	}
	return s.changeAsked(ctx, id, func(_ *sqldb.Tx, t *Ticket) (bool, error) {
		return true, t.Edit(userID, f)
	})
}

// Withdraw takes the seller's ticket off sale for good (version+1,
// ticket.updated with status withdrawn): ErrNotFound, ErrNotOwner,
// ErrWithdrawReserved, ErrSold, or ErrChanged after a lost race.
// Withdrawing a withdrawn ticket again succeeds and publishes nothing.
func (s *Service) Withdraw(ctx context.Context, userID, id string) error {
	if !ids.Valid(id) {
		return ErrNotFound
	}
	_, err := s.changeAsked(ctx, id, func(_ *sqldb.Tx, t *Ticket) (bool, error) {
		return t.Withdraw(userID)
	})
	return err
}

// sell marks ticketID sold to orderID, paid by buyerID (order.completed):
// a free-form listing is sold, an issued ticket held by the buyer, and the
// sale recorded (sold_orders), so that the order's events delivered again
// once the buyer has listed or resold the ticket change nothing.
// Applying it again changes nothing; an order that does not hold the
// ticket yet is errNotHeldBy (its order.created is on its way), and one
// that was refused is left alone (orders refunds it).
func (s *Service) sell(ctx context.Context, ticketID, orderID, buyerID string) error {
	_, err := s.change(ctx, ticketID, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		changed, err := t.Sell(orderID, buyerID, s.now())
		if errors.Is(err, errNotHeldBy) {
			settled, serr := s.store.Settled(ctx, tx, orderID)
			if serr != nil {
				return false, serr
			}
			if settled {
				// Refused or released: never held, never will be; or
				// sold, and the ticket has moved on since.
				return false, nil
			}
		}
		if err == nil && changed {
			err = s.store.RecordSale(ctx, tx, orderID, ticketID, s.now())
		}
		return changed, err
	})
	return err
}

// reserve lets the order hold ticketID (order.created). Applying it
// again, or for an order already cancelled, refused or sold, changes
// nothing. An order that reserved what the ticket no longer is (see
// Ticket.Reserve), or a ticket tickets does not know, is refused: the
// refusal is recorded and ticket.reservation_refused written in one
// transaction, so a redelivered order.created publishes nothing new.
func (s *Service) reserve(ctx context.Context, ticketID string, r Reservation) error {
	_, err := s.change(ctx, ticketID, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		settled, err := s.store.Settled(ctx, tx, r.OrderID)
		if err != nil || settled {
			// The order's cancellation was handled already (it overtook
			// this event, or this is a redelivery after it), or the order
			// was refused before: holding the ticket for a dead order
			// would keep it off sale forever. Or the order was paid and
			// sold the ticket, which its buyer may have listed or resold
			// since: refusing it now would have orders refund them.
			return false, err
		}
		changed, err := t.Reserve(r)
		var ref refusal
		if errors.As(err, &ref) {
			return false, s.refuse(ctx, tx, ticketID, r.OrderID, ref.reason)
		}
		return changed, err
	})
	if errors.Is(err, sqldb.ErrNotFound) {
		// Tickets is the source of truth and orders learns of a ticket
		// only from its ticket.created: a ticket not here never becomes
		// known, so the order gets an answer rather than retries.
		return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			settled, err := s.store.Settled(ctx, tx, r.OrderID)
			if err != nil || settled {
				return err
			}
			return s.refuse(ctx, tx, ticketID, r.OrderID, events.RefusedNotAvailable)
		})
	}
	return err
}

// refuse records that orderID may not have ticketID and announces it, in
// the caller's transaction. Recording is a plain INSERT: of two deliveries
// of one order.created refused at once, the second fails on the primary key
// and is redelivered, to find the refusal recorded.
func (s *Service) refuse(ctx context.Context, tx *sqldb.Tx, ticketID, orderID, reason string) error {
	if err := s.store.RecordRefusal(ctx, tx, orderID, ticketID, reason, s.now()); err != nil {
		return err
	}
	s.log.Info("reservation refused", "order_id", orderID, "ticket_id", ticketID, "reason", reason)
	return s.ob.Add(ctx, tx, events.TicketReservationRefused{TicketID: ticketID, OrderID: orderID, Reason: reason})
}

// release puts ticketID back on sale if orderID still holds it
// (order.cancelled), and remembers the cancellation for reserve.
func (s *Service) release(ctx context.Context, ticketID, orderID string) error {
	_, err := s.change(ctx, ticketID, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		if err := s.store.RecordRelease(ctx, tx, orderID, ticketID, s.now()); err != nil {
			return false, err
		}
		if !t.Release(orderID) {
			return false, nil
		}
		if t.Listed() {
			// A resale listing back on sale meets the cap in force now:
			// the organizer may have lowered it while the order held the
			// ticket (WithdrawOverCap left it to the order then). Read
			// under the ticket's lock, as ListForResale does.
			// An event with no replica, or no face value, has no cap.
			ev, err := s.store.DoorEventTx(ctx, tx, t.EventID)
			if err != nil && !errors.Is(err, sqldb.ErrNotFound) {
				return false, err
			}
			if err == nil && ev.FaceValue > 0 {
				t.WithdrawOverCap(ev.ResaleCap())
			}
		}
		return true, nil
	})
	return err
}

// roomForListing is ErrTooManyListings when userID already has
// MAX_LISTINGS live listings. It locks the seller's row first, so that two
// listings racing in take turns counting.
func (s *Service) roomForListing(ctx context.Context, tx *sqldb.Tx, userID string) error {
	if err := s.store.LockSeller(ctx, tx, userID); err != nil {
		return err
	}
	n, err := s.store.CountLive(ctx, tx, userID)
	if err != nil {
		return err
	}
	if n >= s.maxListings {
		return ErrTooManyListings
	}
	return nil
}

// changeAsked is change for a change someone asked for over HTTP, with
// the answers they share: a ticket that is not there is ErrNotFound, and
// a lost race ErrChanged ("reload and try again").
func (s *Service) changeAsked(ctx context.Context, id string, apply func(tx *sqldb.Tx, t *Ticket) (bool, error)) (Ticket, error) {
	t, err := s.change(ctx, id, apply)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return Ticket{}, ErrNotFound
	case errors.Is(err, errStale):
		return Ticket{}, ErrChanged
	}
	return t, err
}

// change is the read-check-write of every edit of a ticket: in one
// transaction it reads and locks the ticket, lets apply check and change
// it, and, if apply reports a change, writes it at version+1 with its
// ticket.updated; when apply reports no change the transaction still
// commits whatever else apply wrote. Changes of one ticket take turns (the
// row lock on PostgreSQL, the single writer on SQLite), so apply always
// checks owner, reservation and order against the row as it is. The write
// still names the version read, as a guard: if it ever matched no row,
// change returns errStale (HTTP: 400 "reload and try again"; listeners: a
// transient error, redelivered later) rather than overwrite.
func (s *Service) change(ctx context.Context, id string, apply func(tx *sqldb.Tx, t *Ticket) (bool, error)) (Ticket, error) {
	var t Ticket
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if t, err = s.store.GetForUpdate(ctx, tx, id); err != nil {
			return err
		}
		read, code := t.Version, t.CodeVersion
		changed, err := apply(tx, &t)
		if err != nil || !changed {
			return err
		}
		if t.Status == StatusHeld && t.CodeVersion != code {
			// A new holder, or a new code for the holder: record its
			// short form before the ticket (which may move on a clash).
			if err := s.issueCode(ctx, tx, &t); err != nil {
				return err
			}
		}
		return s.write(ctx, tx, &t, read)
	})
	if err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// write stores t, changed from the version read, at read+1 with its
// ticket.updated and the history entries its change noted, in tx.
func (s *Service) write(ctx context.Context, tx *sqldb.Tx, t *Ticket, read int64) error {
	t.Version = read + 1
	if err := s.recordHistory(ctx, tx, t); err != nil {
		return err
	}
	if err := s.store.Update(ctx, tx, *t, read); err != nil {
		return err
	}
	return s.ob.Add(ctx, tx, events.TicketUpdated{
		ID: t.ID, Version: t.Version, Title: t.Title, Price: int64(t.Price),
		UserID: t.Seller(), OrderID: t.OrderID, Status: string(t.Status),
		EventID: t.EventID, OnSaleAt: t.OnSaleAt, Resale: t.Listed(),
	})
}

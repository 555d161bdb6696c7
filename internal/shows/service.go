package shows

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/ratelimit"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the part's tables; open the database with it and
// outbox.Migrations.
var Migrations = sqldb.EmbeddedMigrations(Name, migrations)

var (
	// ErrNotFound is an unknown (or malformed) event id.
	ErrNotFound = fault.New(fault.NotFound, "Event not found")
	// ErrChanged is a change that lost the race for the event: the caller
	// should reload and try again.
	ErrChanged = fault.Coded(fault.Invalid, "event_changed", "The event was changed meanwhile; reload it and try again")
	// ErrBadCursor is an after= that is not the cursor of a page.
	ErrBadCursor = &fault.Error{Kind: fault.Invalid, Field: "after", Message: "after must be the cursor of the previous page (its last event)"}
)

// Listing says which upcoming events to list.
type Listing struct {
	// Now is the time of the request: events starting after it are
	// upcoming. The service sets it.
	Now time.Time
	// Search keeps the events whose name or venue hold every word of it,
	// in any order, as a word or the start of one, ignoring case and
	// accents.
	Search string
	// After, an event id, with AfterStartsAt, the startsAt that event had
	// on the previous page, starts the list after it.
	After         string
	AfterStartsAt time.Time
	// Limit is the most events returned; 0 means all.
	Limit int
}

// IssuedTicket is an issued ticket as the replica keeps it: whether it
// counts as left.
type IssuedTicket struct {
	ID      string
	EventID string
	Version int64
	OnSale  bool
}

// Config tunes the service. Zero values get defaults.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// JoinsPerMinute is how many queue joins one client address may make
	// a minute; 0 means unlimited.
	JoinsPerMinute int
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
}

// Service creates, edits, lists and cancels events, and counts their
// tickets left. Every change is written with its event in one
// transaction.
type Service struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	log   *slog.Logger
	now   func() time.Time
	// queue is the waiting room, nil until EnableQueue.
	queue *queue
	// joins limits queue joins per client address; nil: unlimited.
	joins *ratelimit.Limiter
	// trusted are the proxies whose X-Forwarded-For is believed.
	trusted []netip.Prefix
}

// New returns the service over db (opened with Migrations and
// outbox.Migrations), publishing through ob.
func New(db *sqldb.DB, ob *outbox.Outbox, log *slog.Logger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{db: db, store: NewStore(db), ob: ob, log: log, now: cfg.Now, trusted: cfg.TrustedProxies}
	if cfg.JoinsPerMinute > 0 {
		s.joins = ratelimit.New(cfg.JoinsPerMinute, ratelimit.MaxKeys)
	}
	return s
}

// List returns the upcoming scheduled events, soonest first, filtered and
// paged as l asks. A cursor that cannot be an event id is ErrBadCursor.
func (s *Service) List(ctx context.Context, l Listing) ([]Event, error) {
	if l.After != "" && !ids.Valid(l.After) {
		return nil, ErrBadCursor
	}
	l.Now = s.now()
	list, err := s.store.ListUpcoming(ctx, l)
	return s.settle(list), err
}

// settle is Event.Settle at the service's clock for each of list.
func (s *Service) settle(list []Event) []Event {
	now := s.now()
	for i := range list {
		list[i].Settle(now)
	}
	return list
}

// Mine returns the organizer's own events, whatever their status, soonest
// first ("My events").
func (s *Service) Mine(ctx context.Context, organizerID string) ([]Event, error) {
	list, err := s.store.ListByOrganizer(ctx, organizerID)
	return s.settle(list), err
}

// Get returns one event or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Event, error) {
	if !ids.Valid(id) {
		return Event{}, ErrNotFound
	}
	e, err := s.store.Get(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Event{}, ErrNotFound
	}
	e.Settle(s.now())
	return e, err
}

// Create makes a new event of the organizer user from the draft (with
// its defaults: see Draft) at version 0 and announces it (event.created:
// tickets issues its tickets on it). A user who is not an organizer is
// ErrNotOrganizer; a draft at fault, fault.Problems naming every field.
func (s *Service) Create(ctx context.Context, user session.User, d Draft) (Event, error) {
	if !user.Organizer {
		return Event{}, ErrNotOrganizer
	}
	now := s.now().UTC()
	f, err := d.fields(now)
	if err != nil {
		return Event{}, err
	}
	e := Event{
		ID:          uuid.Must(uuid.NewV7()).String(),
		OrganizerID: user.ID,
		Fields:      f,
		Status:      StatusScheduled,
		Staff:       []string{},
		CreatedAt:   now.Truncate(time.Millisecond),
	}
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.store.Insert(ctx, tx, e); err != nil {
			return err
		}
		return s.ob.Add(ctx, tx, events.EventCreated{EventState: e.state()})
	})
	if err != nil {
		return Event{}, fmt.Errorf("create event: %w", err)
	}
	return e, nil
}

// Update applies the organizer's draft to the event: the fields the draft
// leaves out keep their values. ErrNotFound, ErrNotOrganizer, ErrNotOwner,
// ErrCancelled, ErrEnded, ErrCapacityLocked, validation problems, or
// ErrChanged after a lost race.
func (s *Service) Update(ctx context.Context, user session.User, id string, d Draft) (Event, error) {
	if !user.Organizer {
		return Event{}, ErrNotOrganizer
	}
	return s.change(ctx, id, events.SubjectEventUpdated, func(e *Event) error {
		return e.Edit(user.ID, d, s.now().UTC())
	})
}

// Cancel cancels the organizer's event (version+1, event.cancelled).
// Cancelling a cancelled event again succeeds and publishes nothing.
func (s *Service) Cancel(ctx context.Context, user session.User, id string) (Event, error) {
	if !user.Organizer {
		return Event{}, ErrNotOrganizer
	}
	return s.change(ctx, id, events.SubjectEventCancelled, func(e *Event) error { return e.Cancel(user.ID) })
}

// AddStaff adds door staff by email (version+1, event.updated carrying the
// staff). Adding someone already there succeeds and publishes nothing.
func (s *Service) AddStaff(ctx context.Context, user session.User, id, email string) (Event, error) {
	if !user.Organizer {
		return Event{}, ErrNotOrganizer
	}
	email = NormalizeEmail(email)
	if msg := emailProblem(email); msg != "" {
		return Event{}, &fault.Error{Kind: fault.Invalid, Field: "email", Message: msg}
	}
	return s.change(ctx, id, events.SubjectEventUpdated, func(e *Event) error { return e.AddStaff(user.ID, email) })
}

// RemoveStaff removes door staff by email (version+1, event.updated).
// Removing someone not there succeeds and publishes nothing.
func (s *Service) RemoveStaff(ctx context.Context, user session.User, id, email string) (Event, error) {
	if !user.Organizer {
		return Event{}, ErrNotOrganizer
	}
	return s.change(ctx, id, events.SubjectEventUpdated, func(e *Event) error {
		return e.RemoveStaff(user.ID, NormalizeEmail(email))
	})
}

// change is the read-check-write of every change of an event: in one
// transaction it reads and locks the event, lets apply check and change
// it, and writes it at version+1 with its event on subject (event.updated
// or event.cancelled). apply's errNoChange commits nothing and answers the
// event as it is.
func (s *Service) change(ctx context.Context, id string, subject events.Subject, apply func(e *Event) error) (Event, error) {
	if !ids.Valid(id) {
		return Event{}, ErrNotFound
	}
	var e Event
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if e, err = s.store.GetForUpdate(ctx, tx, id); err != nil {
			return err
		}
		// An ended event refuses every change (changeable), so ended is
		// never written: it stays a reading of the clock.
		e.Settle(s.now())
		read := e.Version
		if err := apply(&e); err != nil {
			return err
		}
		e.Version = read + 1
		if err := s.store.Update(ctx, tx, e, read); err != nil {
			return err
		}
		var msg outbox.Event = events.EventUpdated{EventState: e.state()}
		if subject == events.SubjectEventCancelled {
			msg = events.EventCancelled{EventState: e.state()}
		}
		return s.ob.Add(ctx, tx, msg)
	})
	s.forgetEvent(id)
	switch {
	case errors.Is(err, errNoChange):
		return e, nil
	case errors.Is(err, sqldb.ErrNotFound):
		return Event{}, ErrNotFound
	case errors.Is(err, errStale):
		return Event{}, ErrChanged
	case err != nil:
		return Event{}, fmt.Errorf("change event %s: %w", id, err)
	}
	return e, nil
}

// countTicket applies a version of an issued ticket to the replica and,
// when that version moved the ticket on or off sale, the event's tickets
// left by one, in one transaction: a redelivered version is a
// replica.Duplicate and counts nothing; one that comes before the version
// it follows (or before the ticket's ticket.created) is replica.ErrBehind,
// redelivered until it applies.
func (s *Service) countTicket(ctx context.Context, t IssuedTicket, created bool) error {
	defer s.forgetEvent(t.EventID) // a waiting room sees the count at once
	return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		was, found, err := s.store.TicketOnSale(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		var outcome replica.Outcome
		switch {
		case created && found:
			return nil // a redelivery
		case created:
			// Of two deliveries at once, the second waits on the first's
			// row and inserts nothing: Duplicate.
			outcome, err = s.store.InsertTicket(ctx, tx, t)
			was = false
		case !found:
			// The read found no row, so what it would apply on is unknown:
			// wait for the ticket.created, even if it commits meanwhile
			// (PostgreSQL's next statement would see it).
			return fmt.Errorf("issued ticket %s version %d: not in the replica yet: %w", t.ID, t.Version, replica.ErrBehind)
		default:
			// The row is locked since the read (PostgreSQL; SQLite has
			// one writer), so was is the state Apply applies on.
			outcome, err = s.store.ApplyTicket(ctx, tx, t)
		}
		if err != nil || outcome != replica.Applied {
			return err
		}
		onSale, issued := 0, 0
		switch {
		case t.OnSale && !was:
			onSale = 1
		case !t.OnSale && was:
			onSale = -1
		}
		if created {
			issued = 1
		}
		if onSale == 0 && issued == 0 {
			return nil
		}
		return s.store.AddTicketCounts(ctx, tx, t.EventID, t.ID, onSale, issued)
	})
}

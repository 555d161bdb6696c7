package tickets

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/entrycode"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Result is what a door learns of a scanned code (DESIGN.md 9.2).
type Result string

const (
	// ResultAdmitted: the code is the ticket's current one, and this is
	// its first check-in.
	ResultAdmitted Result = "admitted"
	// ResultAlreadyUsed: the ticket was admitted before (CheckedInAt says
	// when).
	ResultAlreadyUsed Result = "already_used"
	// ResultVoid: a superseded code, a void ticket, or a cancelled event.
	ResultVoid Result = "void"
	// ResultWrongEvent: a valid code of another event than the door's.
	ResultWrongEvent Result = "wrong_event"
	// ResultInvalid: forged, altered, truncated, malformed, or a short
	// form nobody was issued.
	ResultInvalid Result = "invalid"
	// ResultEventEnded: a good code of a ticket never admitted, scanned
	// after the event's end (events.EventEnded). Until the end a door
	// admits latecomers; after it nobody, and the door is told why.
	ResultEventEnded Result = "event_ended"
	// ResultBeingResold: the holder's current code, but an order holds
	// the ticket's resale listing (DESIGN.md 9.3): admitting the seller
	// now could leave the buyer who pays with a ticket already used.
	ResultBeingResold Result = "being_resold"
)

var (
	// ErrNotHolder is a code asked for by someone who does not hold the
	// ticket: it answers as an unknown ticket, revealing nothing.
	ErrNotHolder = ErrNotFound
	// ErrTicketVoid is the code of a ticket whose code is void (its event
	// was cancelled).
	ErrTicketVoid = fault.Coded(fault.Conflict, "ticket_void", "This ticket is void: its code no longer admits anyone")
	// ErrNotDoorStaff is a check-in by someone who is neither the event's
	// organizer nor one of its door staff.
	ErrNotDoorStaff = fault.Coded(fault.Forbidden, "not_door_staff", "Only the event's organizer and door staff can check tickets in")
	// ErrCodeRequired is a check-in without a code.
	ErrCodeRequired = &fault.Error{Kind: fault.Invalid, Field: "code", Message: "Code is required"}
	// ErrBadEventID is a check-in whose eventId is not an id.
	ErrBadEventID = &fault.Error{Kind: fault.Invalid, Field: "eventId", Message: "eventId must be an event id"}
)

// Code is a holder's entry code: the signed code (printed as a QR) and its
// short form for typing, without separators.
type Code struct {
	TicketID    string
	EventID     string
	CodeVersion int64
	Code        string
	Short       string
}

// CheckIn is the answer to one scan. TicketID and EventID are empty for an
// invalid code; CheckedInAt is set for admitted and already_used.
type CheckIn struct {
	Result      Result
	TicketID    string
	EventID     string
	CheckedInAt time.Time
}

// DoorEvent is tickets' replica of an event: who may check in to it, and
// what caps its tickets' resale price.
type DoorEvent struct {
	ID          string
	Version     int64
	OrganizerID string
	Staff       []string
	Status      string
	// StartsAt and EndsAt are the event's times; zero in a row from before
	// the replica kept them (never ended then).
	StartsAt, EndsAt time.Time
	// FaceValue and ResaleCapPercent bound a holder's listing price
	// (ResaleCap).
	FaceValue        money.Cents
	ResaleCapPercent int64
	// Transfers says whether holders may transfer the event's tickets
	// (transfer.go).
	Transfers bool
}

// ResaleCap is the highest price a holder may list the event's ticket
// at: floor(faceValue × resaleCapPercent / 100), in cents (DESIGN.md
// 9.3). A percent the replica lacks is DESIGN.md's default, 100.
func (e DoorEvent) ResaleCap() money.Cents {
	pct := e.ResaleCapPercent
	if pct <= 0 {
		pct = 100
	}
	return money.Cents(int64(e.FaceValue) * pct / 100)
}

// mayCheckIn reports whether user is the event's organizer or one of its
// door staff (by the lower-cased email of their session).
func (e DoorEvent) mayCheckIn(user session.User) bool {
	if user.ID != "" && user.ID == e.OrganizerID {
		return true
	}
	email := strings.ToLower(strings.TrimSpace(user.Email))
	return email != "" && slices.Contains(e.Staff, email)
}

func (s *Service) publicKey() ed25519.PublicKey {
	return s.key.Public().(ed25519.PublicKey)
}

// sign returns the code of the ticket's current codeVersion.
func (s *Service) sign(t Ticket) (Code, error) {
	code, err := entrycode.Sign(s.key, entrycode.Claims{TicketID: t.ID, EventID: t.EventID, CodeVersion: int(t.CodeVersion)})
	if err != nil {
		return Code{}, fmt.Errorf("sign code of %s: %w", t.ID, err)
	}
	short, err := entrycode.Short(code)
	if err != nil {
		return Code{}, fmt.Errorf("short code of %s: %w", t.ID, err)
	}
	return Code{TicketID: t.ID, EventID: t.EventID, CodeVersion: t.CodeVersion, Code: code, Short: short}, nil
}

// maxCodeClashes bounds the codeVersions tried for a short form nobody
// has: one clash is astronomically rare, several a broken key or table.
const maxCodeClashes = 5

// issueCode records the short form of the code of t's current codeVersion,
// in tx, before t is written. On the rare short form another code already
// has, it moves t on to the next codeVersion and signs again.
func (s *Service) issueCode(ctx context.Context, tx *sqldb.Tx, t *Ticket) error {
	for range maxCodeClashes {
		c, err := s.sign(*t)
		if err != nil {
			return err
		}
		stored, err := s.store.AddEntryCode(ctx, tx, c.Short, t.ID, t.CodeVersion)
		if err != nil {
			return err
		}
		if stored {
			return nil
		}
		s.log.Warn("short code clash, issuing the next code version", "ticket_id", t.ID, "code_version", t.CodeVersion)
		t.CodeVersion++
	}
	return fmt.Errorf("issue code of %s: %d short-form clashes in a row", t.ID, maxCodeClashes)
}

// Code returns the entry code of ticket id to its holder, userID. Anyone
// else gets ErrNotFound (whether the ticket exists is not theirs to know);
// the holder of a void ticket ErrTicketVoid.
func (s *Service) Code(ctx context.Context, userID, id string) (Code, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return Code{}, err
	}
	if userID == "" || t.HolderID != userID || t.EventID == "" {
		return Code{}, ErrNotHolder
	}
	if t.Status != StatusHeld && !t.Listed() {
		// A listed ticket's code still admits its holder (DESIGN.md 9.3).
		return Code{}, ErrTicketVoid
	}
	c, err := s.sign(t)
	if err != nil {
		return Code{}, err
	}
	if err := s.ensureShort(ctx, c); err != nil {
		return Code{}, err
	}
	return c, nil
}

// ensureShort records c's short form if it is not yet: a ticket held
// before short forms were stored gets it the first time its holder looks
// at the code. A clash there is only logged: the full code still works.
func (s *Service) ensureShort(ctx context.Context, c Code) error {
	_, _, err := s.store.EntryCode(ctx, c.Short)
	if !errors.Is(err, sqldb.ErrNotFound) {
		return err
	}
	var stored bool
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		stored, err = s.store.AddEntryCode(ctx, tx, c.Short, c.TicketID, c.CodeVersion)
		return err
	})
	if err != nil {
		return fmt.Errorf("record short code of %s: %w", c.TicketID, err)
	}
	if !stored {
		s.log.Warn("short code of a ticket held before short forms clashes; only its full code works", "ticket_id", c.TicketID)
	}
	return nil
}

// resolve reads what a scanned code names: the full signed code (verified
// with the service's key) or a short form (looked up). ok is false for
// anything that names no code tickets issued.
func (s *Service) resolve(ctx context.Context, code string) (entrycode.Claims, bool, error) {
	if strings.Contains(code, ".") {
		c, err := entrycode.Verify(s.publicKey(), code)
		return c, err == nil, nil
	}
	short, err := entrycode.Normalize(code)
	if err != nil {
		return entrycode.Claims{}, false, nil
	}
	ticketID, version, err := s.store.EntryCode(ctx, short)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return entrycode.Claims{}, false, nil
	case err != nil:
		return entrycode.Claims{}, false, err
	}
	t, err := s.store.Get(ctx, ticketID)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return entrycode.Claims{}, false, nil
	case err != nil:
		return entrycode.Claims{}, false, err
	}
	return entrycode.Claims{TicketID: t.ID, EventID: t.EventID, CodeVersion: int(version)}, true, nil
}

// CheckInCode checks in the ticket code names at the door of eventID ("":
// the code's own event), scanned by user. Only the door event's organizer
// and door staff may (ErrNotDoorStaff; also when no door event can be
// told: an unreadable code without eventID). A code is admitted once:
// the admission is a row keyed by the ticket, inserted in the transaction
// that reads and locks the ticket, so of any number of doors scanning one
// code at once exactly one is admitted and the others find it used.
func (s *Service) CheckInCode(ctx context.Context, user session.User, code, eventID string) (CheckIn, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return CheckIn{}, ErrCodeRequired
	}
	if eventID != "" && !ids.Valid(eventID) {
		return CheckIn{}, ErrBadEventID
	}
	claims, ok, err := s.resolve(ctx, code)
	if err != nil {
		return CheckIn{}, fmt.Errorf("check in: %w", err)
	}
	door := eventID
	if door == "" {
		if !ok {
			return CheckIn{}, ErrNotDoorStaff
		}
		door = claims.EventID
	}
	ev, err := s.store.DoorEvent(ctx, door)
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return CheckIn{}, ErrNotDoorStaff
	case err != nil:
		return CheckIn{}, fmt.Errorf("check in: %w", err)
	case !ev.mayCheckIn(user):
		return CheckIn{}, ErrNotDoorStaff
	}
	if !ok {
		return CheckIn{Result: ResultInvalid}, nil
	}
	out := CheckIn{TicketID: claims.TicketID, EventID: claims.EventID}
	if claims.EventID != door {
		out.Result = ResultWrongEvent
		return out, nil
	}
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		t, err := s.store.TicketForCheckIn(ctx, tx, claims.TicketID)
		if errors.Is(err, sqldb.ErrNotFound) {
			out = CheckIn{Result: ResultInvalid}
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case t.EventID != claims.EventID:
			out = CheckIn{Result: ResultInvalid}
			return nil
		case ev.Status == events.EventStatusCancelled || (t.Status != StatusHeld && !t.Listed()) || int64(claims.CodeVersion) != t.CodeVersion:
			out.Result = ResultVoid
			return nil
		case t.Status == StatusReserved:
			out.Result = ResultBeingResold
			return nil
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		if events.EventEnded(ev.StartsAt, ev.EndsAt, now) {
			// Nobody is admitted after the end; one admitted before
			// still reads as used, with when.
			at, used, err := s.store.CheckedInAt(ctx, tx, t.ID)
			if err != nil {
				return err
			}
			out.Result, out.CheckedInAt = ResultEventEnded, time.Time{}
			if used {
				out.Result, out.CheckedInAt = ResultAlreadyUsed, at
			}
			return nil
		}
		admitted, at, err := s.store.AddCheckIn(ctx, tx, t, user, now)
		if err != nil {
			return err
		}
		if t.Status == StatusOnSale {
			// The holder came in: the listing leaves sale in the same
			// transaction, so no order can take a ticket already used.
			read := t.Version
			t.Status = StatusHeld
			if err := s.write(ctx, tx, &t, read); err != nil {
				return err
			}
		}
		out.CheckedInAt = at
		out.Result = ResultAlreadyUsed
		if admitted {
			out.Result = ResultAdmitted
		}
		return nil
	})
	if err != nil {
		return CheckIn{}, fmt.Errorf("check in %s: %w", claims.TicketID, err)
	}
	return out, nil
}

// doorEvent is ev as the replica keeps it.
func doorEvent(ev events.EventState) replica.Set {
	staff := make([]string, 0, len(ev.Staff))
	for _, e := range ev.Staff {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !strings.Contains(e, "\n") {
			staff = append(staff, e)
		}
	}
	return replica.Set{"organizer_id": ev.OrganizerID, "staff": strings.Join(staff, "\n"), "status": ev.Status,
		"starts_at": millis(ev.StartsAt), "ends_at": millis(ev.EndsAt),
		"face_value": ev.FaceValue, "resale_cap_percent": int64(ev.ResaleCapPercent), "transfers": ev.Transfers}
}

// applyDoorEvent keeps the replica of ev (event.created inserts it,
// event.updated and event.cancelled apply version N on N−1). An event
// whose previous version has not landed returns replica.ErrBehind, which
// the runner redelivers with a delay by itself.
func (s *Service) applyDoorEvent(ctx context.Context, ev events.EventState, created bool) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if created {
			_, err = replica.Insert(ctx, tx, "door_events", ev.ID, ev.Version, doorEvent(ev))
		} else {
			_, err = replica.Apply(ctx, tx, "door_events", ev.ID, ev.Version, doorEvent(ev))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("door event %s v%d: %w", ev.ID, ev.Version, err)
	}
	return nil
}

package tickets

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Transfer of an issued ticket (DESIGN.md 9.3): its holder offers it to an
// email, if the event allows transfers; the account with that email (as
// its session token says: no part reads auth's tables) accepts it, and
// becomes the holder with a new code, so the sender's is void at once.
// Not while the ticket is listed or reserved, not once it was used at the
// door, and frozen from the event's start. The sender may cancel it until
// it is accepted; turning transfers off or cancelling the event cancels
// every pending one.
//
// A transfer is created and accepted under the ticket's lock (the
// transaction of Service.change), as a listing is, so of a transfer and a
// listing racing for one ticket only one gets it.

// TransferStatus is where a transfer is in its life.
type TransferStatus string

const (
	TransferPending   TransferStatus = "pending"
	TransferAccepted  TransferStatus = "accepted"
	TransferCancelled TransferStatus = "cancelled"
)

// Who cancelled a transfer (Transfer.CancelledBy).
const (
	CancelledBySender         = "sender"
	CancelledByTransfersOff   = "transfers_off"
	CancelledByEventCancelled = "event_cancelled"
)

// Transfer is a holder's offer of their ticket to an email.
type Transfer struct {
	ID       string
	TicketID string
	EventID  string
	// Title is the ticket's, for the lists.
	Title      string
	FromUserID string
	// FromEmail is the sender's email as their session token had it, so
	// the recipient knows whom it comes from.
	FromEmail   string
	ToEmail     string
	Status      TransferStatus
	CreatedAt   time.Time
	CancelledBy string
}

// MaxTransferList bounds each side (incoming, outgoing) of a user's
// pending transfers as GET /api/transfers lists them.
const MaxTransferList = 100

// maxEmail is the longest email (RFC 5321's path limit).
const maxEmail = 254

var (
	// ErrTransferNotFound is an unknown transfer, or one the caller is
	// neither the sender nor the recipient of.
	ErrTransferNotFound = fault.New(fault.NotFound, "Transfer not found")
	// ErrTransfersNotAllowed is a transfer of a ticket whose event's
	// organizer turned transfers off.
	ErrTransfersNotAllowed = fault.Coded(fault.Conflict, "transfers_not_allowed", "The organizer does not allow this event's tickets to be transferred")
	// ErrTransfersClosed is a transfer, or its acceptance, from the
	// event's start on.
	ErrTransfersClosed = fault.Coded(fault.Conflict, "transfers_closed", "Transfers of this event's tickets closed when the event started")
	// ErrTransferEventNotScheduled is a transfer of a ticket whose event
	// was cancelled or has ended.
	ErrTransferEventNotScheduled = fault.Coded(fault.Conflict, "event_not_scheduled", "The event was cancelled or has ended: its tickets cannot be transferred")
	// ErrTransferListed is a transfer of a ticket its holder lists for
	// resale.
	ErrTransferListed = fault.Coded(fault.Conflict, "ticket_listed", "The ticket is listed for resale: withdraw the listing before transferring it")
	// ErrTransferBeingResold is a transfer of a ticket whose resale
	// listing an order holds.
	ErrTransferBeingResold = fault.Coded(fault.Conflict, "ticket_being_resold", "A buyer is paying for this ticket's resale listing: it cannot be transferred")
	// ErrTransferCheckedIn is a transfer of a ticket used at the door.
	ErrTransferCheckedIn = fault.Coded(fault.Conflict, "ticket_checked_in", "This ticket was already used at the door and cannot be transferred")
	// ErrTransferPending is a second transfer of a ticket with one
	// pending.
	ErrTransferPending = fault.Coded(fault.Conflict, "transfer_pending", "This ticket already has a pending transfer: cancel it first")
	// ErrListingTransferPending is a listing of a ticket with a pending
	// transfer.
	ErrListingTransferPending = fault.Coded(fault.Conflict, "transfer_pending", "This ticket has a pending transfer: cancel it before listing the ticket")
	// ErrTransferAccepted is an accept or cancellation of a transfer
	// already accepted.
	ErrTransferAccepted = fault.Coded(fault.Conflict, "transfer_accepted", "This transfer was already accepted")
	// ErrTransferCancelled is an accept of a cancelled transfer.
	ErrTransferCancelled = fault.Coded(fault.Conflict, "transfer_cancelled", "This transfer was cancelled")
	// errTransferToSelf is a transfer to the holder's own email.
	errTransferToSelf = &fault.Error{Kind: fault.Invalid, Code: "transfer_to_self", Field: "email", Message: "You already hold this ticket: transfer it to someone else's email"}
)

// normalizeEmail trims and lower-cases an email, as auth does, so that
// the recipient is recognised by the email in their session token.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkEmail reports what is wrong with a normalised email as a problem of
// the field "email": a bare address whose domain has a dot, as auth
// accepts at sign-up.
func checkEmail(email string) error {
	var p fault.Problems
	if email == "" {
		p.Add("email", "Email is required")
		return p.Err()
	}
	a, err := mail.ParseAddress(email)
	domain := email[strings.LastIndexByte(email, '@')+1:]
	if len(email) > maxEmail || err != nil || a.Name != "" || a.Address != email ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		p.Add("email", "Email must be a valid email address")
	}
	return p.Err()
}

// transferable says whether the event's tickets may be transferred (or a
// transfer accepted) at now.
func (e DoorEvent) transferable(now time.Time) error {
	switch {
	case e.Status != events.EventStatusScheduled || events.EventEnded(e.StartsAt, e.EndsAt, now):
		return ErrTransferEventNotScheduled
	case !e.Transfers:
		return ErrTransfersNotAllowed
	case !e.StartsAt.IsZero() && !now.Before(e.StartsAt):
		return ErrTransfersClosed
	}
	return nil
}

// mayTransfer checks that the holder's ticket t can be given away now:
// held (not void, listed or reserved), never used at the door.
func (s *Service) mayTransfer(ctx context.Context, tx *sqldb.Tx, t *Ticket) error {
	switch t.Status {
	case StatusHeld:
	case StatusVoid:
		return ErrTicketVoid
	case StatusOnSale:
		return ErrTransferListed
	case StatusReserved:
		return ErrTransferBeingResold
	default:
		return ErrNotHolder
	}
	_, used, err := s.store.CheckedInAt(ctx, tx, t.ID)
	if err != nil {
		return err
	}
	if used {
		return ErrTransferCheckedIn
	}
	return nil
}

// StartTransfer offers user's ticket id to email: ErrNotFound for anyone
// but its holder, email problems (400), errTransferToSelf, and the
// refusals of the event (transferable) and of the ticket (mayTransfer,
// ErrTransferPending), or ErrChanged after a lost race.
func (s *Service) StartTransfer(ctx context.Context, user session.User, id, email string) (Transfer, error) {
	to := normalizeEmail(email)
	if err := checkEmail(to); err != nil {
		return Transfer{}, err
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return Transfer{}, err
	}
	if user.ID == "" || t.HolderID != user.ID || t.EventID == "" {
		return Transfer{}, ErrNotHolder
	}
	if to == normalizeEmail(user.Email) {
		return Transfer{}, errTransferToSelf
	}
	ev, err := s.store.DoorEvent(ctx, t.EventID)
	if err != nil {
		return Transfer{}, fmt.Errorf("transfer ticket %s: %w", id, err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := ev.transferable(now); err != nil {
		return Transfer{}, err
	}
	tr := Transfer{ID: uuid.Must(uuid.NewV7()).String(), TicketID: t.ID, EventID: t.EventID, Title: t.Title,
		FromUserID: user.ID, FromEmail: normalizeEmail(user.Email), ToEmail: to, Status: TransferPending, CreatedAt: now}
	_, err = s.changeAsked(ctx, id, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		if t.HolderID != user.ID {
			return false, ErrNotHolder
		}
		if err := s.mayTransfer(ctx, tx, t); err != nil {
			return false, err
		}
		pending, err := s.store.HasPendingTransfer(ctx, tx, t.ID)
		if err != nil {
			return false, err
		}
		if pending {
			return false, ErrTransferPending
		}
		// The ticket itself does not change until the transfer is
		// accepted: nothing to publish.
		return false, s.store.InsertTransfer(ctx, tx, tr)
	})
	if errors.Is(err, sqldb.ErrConflict) {
		return Transfer{}, ErrTransferPending // a concurrent one got in first
	}
	if err != nil {
		return Transfer{}, err
	}
	return tr, nil
}

// AcceptTransfer makes user, the recipient of transfer id, the holder of
// its ticket with a new code (version+1, ticket.updated, history
// "transferred"), and returns the ticket. ErrTransferNotFound for anyone
// whose email is not the transfer's; ErrTransferAccepted,
// ErrTransferCancelled, the event's refusals (transferable) and the
// ticket's (mayTransfer).
func (s *Service) AcceptTransfer(ctx context.Context, user session.User, id string) (Ticket, error) {
	tr, err := s.transferOf(ctx, id)
	if err != nil {
		return Ticket{}, err
	}
	email := normalizeEmail(user.Email)
	if user.ID == "" || email == "" || tr.ToEmail != email {
		return Ticket{}, ErrTransferNotFound
	}
	ev, err := s.store.DoorEvent(ctx, tr.EventID)
	if err != nil {
		return Ticket{}, fmt.Errorf("accept transfer %s: %w", id, err)
	}
	return s.changeAsked(ctx, tr.TicketID, func(tx *sqldb.Tx, t *Ticket) (bool, error) {
		cur, err := s.store.TransferForUpdate(ctx, tx, id)
		if err != nil {
			return false, err
		}
		switch cur.Status {
		case TransferAccepted:
			return false, ErrTransferAccepted
		case TransferCancelled:
			return false, ErrTransferCancelled
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		if err := ev.transferable(now); err != nil {
			return false, err
		}
		if t.HolderID != cur.FromUserID {
			// Cannot happen while the transfer is pending (the holder
			// changes only by a paid resale, which a pending transfer
			// keeps from being listed); refuse rather than guess.
			return false, ErrTransferCancelled
		}
		if err := s.mayTransfer(ctx, tx, t); err != nil {
			return false, err
		}
		if t.HolderID == user.ID {
			return false, errTransferToSelf
		}
		if err := s.store.SettleTransfer(ctx, tx, id, TransferAccepted, user.ID, "", now); err != nil {
			return false, err
		}
		t.HolderID = user.ID
		t.CodeVersion++
		t.note(ReasonTransferred)
		return true, nil
	})
}

// CancelTransfer cancels userID's pending transfer id: ErrTransferNotFound
// for anyone but its sender, ErrTransferAccepted once accepted; a
// transfer already cancelled succeeds again.
func (s *Service) CancelTransfer(ctx context.Context, userID, id string) error {
	tr, err := s.transferOf(ctx, id)
	if err != nil {
		return err
	}
	if userID == "" || tr.FromUserID != userID {
		return ErrTransferNotFound
	}
	return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		cur, err := s.store.TransferForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		switch cur.Status {
		case TransferAccepted:
			return ErrTransferAccepted
		case TransferCancelled:
			return nil
		}
		return s.store.SettleTransfer(ctx, tx, id, TransferCancelled, "", CancelledBySender, s.now())
	})
}

// transferOf reads transfer id, or ErrTransferNotFound.
func (s *Service) transferOf(ctx context.Context, id string) (Transfer, error) {
	if !ids.Valid(id) {
		return Transfer{}, ErrTransferNotFound
	}
	tr, err := s.store.GetTransfer(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Transfer{}, ErrTransferNotFound
	}
	return tr, err
}

// Transfers returns user's pending transfers: incoming (to their email)
// and outgoing (theirs), newest first, at most MaxTransferList of each.
func (s *Service) Transfers(ctx context.Context, user session.User) (incoming, outgoing []Transfer, err error) {
	incoming = []Transfer{}
	if email := normalizeEmail(user.Email); email != "" {
		if incoming, err = s.store.PendingTransfersTo(ctx, email, MaxTransferList); err != nil {
			return nil, nil, err
		}
	}
	if outgoing, err = s.store.PendingTransfersFrom(ctx, user.ID, MaxTransferList); err != nil {
		return nil, nil, err
	}
	return incoming, outgoing, nil
}

// closeTransfers cancels the pending transfers of the event's tickets
// when its replica says it was cancelled or no longer allows transfers
// (after event.updated or event.cancelled). It reads the replica rather
// than the message, so a redelivered older message cannot cancel
// transfers a later version allowed. Applying it again changes nothing.
func (s *Service) closeTransfers(ctx context.Context, eventID string) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		on, status, err := s.store.EventTransfers(ctx, tx, eventID)
		if errors.Is(err, sqldb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		by := ""
		switch {
		case status == events.EventStatusCancelled:
			by = CancelledByEventCancelled
		case !on:
			by = CancelledByTransfersOff
		default:
			return nil
		}
		n, err := s.store.CancelEventTransfers(ctx, tx, eventID, by, s.now())
		if n > 0 {
			s.log.Info("pending transfers cancelled", "event_id", eventID, "count", n, "by", by)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("close transfers of %s: %w", eventID, err)
	}
	return nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// ErrNoSuchUser means no account has the email an operator named.
var ErrNoSuchUser = errors.New("no account has this email")

// Organizers makes accounts organizers or ordinary again (DESIGN.md section
// 9.1). It is what the operator's command `ticketing admin organizer
// grant|revoke EMAIL` runs against auth's database, beside the running
// service or while it is stopped: it needs no session key and serves
// nothing. The events it queues in the outbox are published by the auth
// service's relay, at its next scan.
type Organizers struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	now   func() time.Time
}

// NewOrganizers returns Organizers over auth's database db (migrated with
// outbox.Migrations and Migrations); ob writes into db's outbox (it need not
// run); now is the clock (nil: time.Now).
func NewOrganizers(db *sqldb.DB, ob *outbox.Outbox, now func() time.Time) *Organizers {
	if now == nil {
		now = time.Now
	}
	return &Organizers{db: db, store: NewStore(db), ob: ob, now: now}
}

// OrganizerChange is what Grant or Revoke did to an account.
type OrganizerChange struct {
	UserID string
	Email  string
	// Changed is false when the account already was (Grant) or was not
	// (Revoke) an organizer: nothing was written.
	Changed bool
	// SignedOut says every session of the account was ended (a Revoke that
	// changed something).
	SignedOut bool
}

// Grant makes the account with email an organizer. Its sessions are left
// alone: the claim comes with its next sign-in. ErrNoSuchUser when no
// account has the email.
func (o *Organizers) Grant(ctx context.Context, email string) (OrganizerChange, error) {
	return o.set(ctx, email, true)
}

// Revoke makes the account with email an ordinary one again and signs it
// out everywhere, in the same transaction: a token issued before says
// "organizer" until it expires, and every service trusts it, so it must
// not live on. ErrNoSuchUser when no account has the email.
func (o *Organizers) Revoke(ctx context.Context, email string) (OrganizerChange, error) {
	return o.set(ctx, email, false)
}

func (o *Organizers) set(ctx context.Context, email string, on bool) (OrganizerChange, error) {
	email = NormalizeEmail(email)
	if msg := EmailProblem(email); msg != "" {
		return OrganizerChange{}, fmt.Errorf("%q: %s", email, msg)
	}
	c := OrganizerChange{Email: email}
	now := o.now()
	err := o.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		id, changed, err := o.store.SetOrganizer(ctx, tx, email, on)
		if err != nil {
			return err
		}
		c.UserID, c.Changed = id, changed
		if on || !changed {
			return nil
		}
		// As SignOutEverywhere: every token issued before now, and none
		// outlives now + MaxTTL.
		nb := now.UTC().Truncate(time.Millisecond)
		c.SignedOut, err = addRevocation(ctx, tx, o.store, o.ob, uuid.Must(uuid.NewV7()).String(),
			session.Revocation{UserID: id, NotBefore: nb, ExpiresAt: nb.Add(session.MaxTTL)}, now)
		return err
	})
	if errors.Is(err, sqldb.ErrNotFound) {
		return OrganizerChange{}, fmt.Errorf("%w: %s", ErrNoSuchUser, email)
	}
	if err != nil {
		return OrganizerChange{}, err
	}
	return c, nil
}

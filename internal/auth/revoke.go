package auth

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// SignOut revokes the token t (the caller's) in every service: it is
// recorded and session.revoked goes out through the outbox in one
// transaction, so a crash cannot keep the record and lose the event.
// Signing out a token twice publishes once.
func (s *Service) SignOut(ctx context.Context, t session.Token) error {
	if t.ID == "" {
		return nil // not a token Verify accepts: nothing to revoke
	}
	return s.revoke(ctx, t.ID, session.Revocation{UserID: t.User.ID, TokenID: t.ID, ExpiresAt: t.ExpiresAt})
}

// SignOutEverywhere revokes every token of t's user issued up to now,
// this millisecond included (tokens carry their issue time to the
// millisecond, and a session signed in during it is one the user may not
// know of), t included. A sign-in after has a session again, even within
// the same millisecond: startSession dates its token no earlier than the
// revocation.
func (s *Service) SignOutEverywhere(ctx context.Context, t session.Token) error {
	nb := s.cfg.Now().UTC().Truncate(time.Millisecond).Add(time.Millisecond)
	// No token issued before nb, nor t (issued before nb), outlives
	// nb + MaxTTL: auth issues none longer.
	return s.revoke(ctx, uuid.Must(uuid.NewV7()).String(), session.Revocation{
		UserID: t.User.ID, TokenID: t.ID, NotBefore: nb, ExpiresAt: nb.Add(session.MaxTTL),
	})
}

func (s *Service) revoke(ctx context.Context, id string, rv session.Revocation) error {
	now := s.cfg.Now()
	return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		added, err := addRevocation(ctx, tx, s.store, s.ob, id, rv, now)
		if err != nil || !added {
			return err
		}
		// Auth's own answers (currentuser) need not wait for the bus.
		if s.cfg.Revoked != nil {
			tx.OnCommit(func() { s.cfg.Revoked.Add(rv, now) })
		}
		return nil
	})
}

// addRevocation records rv under id inside tx and queues session.revoked
// in the outbox with it, reporting whether it is new (false: already
// recorded, nothing queued).
func addRevocation(ctx context.Context, tx *sqldb.Tx, st *Store, ob *outbox.Outbox, id string, rv session.Revocation, now time.Time) (bool, error) {
	added, err := st.AddRevocation(ctx, tx, id, rv, now)
	if err != nil || !added {
		return false, err
	}
	ev := events.SessionRevoked{UserID: rv.UserID, TokenID: rv.TokenID, ExpiresAt: rv.ExpiresAt.UTC()}
	if !rv.NotBefore.IsZero() {
		nb := rv.NotBefore.UTC()
		ev.NotBefore = &nb
	}
	if err := ob.Add(ctx, tx, ev); err != nil {
		return false, err
	}
	return true, nil
}

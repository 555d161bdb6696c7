package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// me is what currentuser says of cookie c (nil: nobody).
func (h *harness) me(tb testing.TB, c *http.Cookie) *sessionUserJSON {
	tb.Helper()
	var body currentUserJSON
	if err := json.Unmarshal([]byte(readBody(tb, h.do(tb, "GET", "/api/users/currentuser", "", withCookie(c)))), &body); err != nil {
		tb.Fatal(err)
	}
	return body.CurrentUser
}

// TestOrganizerClaim: an operator's grant reaches the session token (and
// currentuser) at the next sign-in, not before; a revoke clears it at the
// next sign-in and signs the account out everywhere meanwhile (the event
// the bus would bring every process); on every engine.
func TestOrganizerClaim(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		h := newHarnessDB(t, db, Config{})
		ob := outbox.New(db, natsbustest.NopPublisher{}, slog.New(slog.DiscardHandler), outbox.Config{})
		orgs := NewOrganizers(db, ob, h.clock.Now)

		before := h.signIn(t, "/api/users/signup")
		ann := parse(t, before, h.clock.Now()).User
		if ann.Organizer {
			t.Fatal("a new account's token says organizer")
		}

		c, err := orgs.Grant(ctx, "  Ann@Example.COM ")
		if err != nil {
			t.Fatalf("grant: %v", err)
		}
		if c != (OrganizerChange{UserID: ann.ID, Email: "ann@example.com", Changed: true}) {
			t.Errorf("grant = %+v", c)
		}
		// The session from before the grant stays as it was.
		if u := h.me(t, before); u == nil || u.Organizer {
			t.Errorf("currentuser with the session from before the grant = %+v, want ann, no organizer", u)
		}
		organizer := h.signIn(t, "/api/users/signin")
		if tok := parse(t, organizer, h.clock.Now()); !tok.User.Organizer || tok.User.ID != ann.ID {
			t.Errorf("token after the grant = %+v, want ann as organizer", tok.User)
		}
		if u := h.me(t, organizer); u == nil || !u.Organizer || u.ID != ann.ID {
			t.Errorf("currentuser after the grant = %+v, want ann as organizer", u)
		}
		if c, err := orgs.Grant(ctx, "ann@example.com"); err != nil || c.Changed || c.SignedOut {
			t.Errorf("second grant = %+v %v, want nothing changed", c, err)
		}
		if got := revokedEvents(t, db); len(got) != 0 {
			t.Errorf("a grant queued %d session.revoked, want none", len(got))
		}

		h.clock.Advance(time.Second)
		c, err = orgs.Revoke(ctx, "ann@example.com")
		if err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if c != (OrganizerChange{UserID: ann.ID, Email: "ann@example.com", Changed: true, SignedOut: true}) {
			t.Errorf("revoke = %+v", c)
		}
		nb := h.clock.Now().UTC()
		got := revokedEvents(t, db)
		if len(got) != 1 || got[0].UserID != ann.ID || got[0].TokenID != "" || got[0].NotBefore == nil ||
			!got[0].NotBefore.Equal(nb) || !got[0].ExpiresAt.Equal(nb.Add(session.MaxTTL)) {
			t.Fatalf("events after the revoke = %+v, want ann signed out everywhere from %s", got, nb)
		}
		// Delivered as the bus delivers it, it ends the organizer session.
		h.svc.cfg.Revoked.Add(session.Revocation{UserID: got[0].UserID, NotBefore: *got[0].NotBefore, ExpiresAt: got[0].ExpiresAt}, h.clock.Now())
		if u := h.me(t, organizer); u != nil {
			t.Errorf("currentuser with the organizer session after the revoke = %+v, want nobody", u)
		}
		h.clock.Advance(time.Millisecond)
		after := h.signIn(t, "/api/users/signin")
		if u := h.me(t, after); u == nil || u.Organizer {
			t.Errorf("currentuser after the revoke and a sign-in = %+v, want ann, no organizer", u)
		}
		if c, err := orgs.Revoke(ctx, "ann@example.com"); err != nil || c.Changed || c.SignedOut {
			t.Errorf("second revoke = %+v %v, want nothing changed", c, err)
		}
		if got := revokedEvents(t, db); len(got) != 1 {
			t.Errorf("%d session.revoked after a revoke that changed nothing, want still 1", len(got))
		}
	}, outbox.Migrations, Migrations)
}

func TestOrganizersRefuse(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{})
	h.signIn(t, "/api/users/signup")
	orgs := NewOrganizers(h.db, outbox.New(h.db, natsbustest.NopPublisher{}, slog.New(slog.DiscardHandler), outbox.Config{}), nil)
	tests := []struct {
		name, email string
		want        error // nil: any error
	}{
		{name: "unknown email", email: "bob@example.com", want: ErrNoSuchUser},
		{name: "not an email", email: "ann"},
		{name: "empty", email: " "},
	}
	for _, tc := range tests {
		for _, op := range []struct {
			name string
			f    func(context.Context, string) (OrganizerChange, error)
		}{{"grant", orgs.Grant}, {"revoke", orgs.Revoke}} {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				c, err := op.f(ctx, tc.email)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
				if c != (OrganizerChange{}) {
					t.Errorf("change = %+v, want none", c)
				}
			})
		}
	}
	if u, err := NewStore(h.db).UserByEmail(ctx, "ann@example.com"); err != nil || u.Organizer {
		t.Errorf("ann = %+v %v after refused grants, want no organizer", u, err)
	}
}

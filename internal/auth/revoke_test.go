package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// revokedEvents returns the session.revoked events waiting in the outbox,
// oldest first.
func revokedEvents(tb testing.TB, db *sqldb.DB) []events.SessionRevoked {
	tb.Helper()
	return outboxtest.Payloads[events.SessionRevoked](tb, db, events.SubjectSessionRevoked)
}

// signIn signs ann in (creating her first when new) and returns the cookie.
func (h *harness) signIn(tb testing.TB, path string) *http.Cookie {
	tb.Helper()
	resp := h.do(tb, "POST", path, creds("ann@example.com", "password1"))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		tb.Fatalf("%s: %d %s", path, resp.StatusCode, readBody(tb, resp))
	}
	return sessionCookie(tb, resp)
}

// currentUser is the id currentuser names for cookie c, "" for nobody.
func (h *harness) currentUser(tb testing.TB, c *http.Cookie) string {
	tb.Helper()
	var body currentUserJSON
	if err := json.Unmarshal([]byte(readBody(tb, h.do(tb, "GET", "/api/users/currentuser", "", withCookie(c)))), &body); err != nil {
		tb.Fatal(err)
	}
	if body.CurrentUser == nil {
		return ""
	}
	return body.CurrentUser.ID
}

func parse(tb testing.TB, c *http.Cookie, now time.Time) session.Token {
	tb.Helper()
	t, err := session.Parse(testKey, c.Value, now)
	if err != nil {
		tb.Fatalf("parse cookie: %v", err)
	}
	return t
}

func TestSignOutRevokesTheToken(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.signIn(t, "/api/users/signup")
	other := h.signIn(t, "/api/users/signin")
	tok := parse(t, c, h.clock.Now())
	if h.currentUser(t, c) != tok.User.ID {
		t.Fatal("the new session is not signed in")
	}

	resp := h.do(t, "POST", "/api/users/signout", "", withCookie(c))
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || body != "{}\n" {
		t.Fatalf("sign out = %d %q, want 200 {}", resp.StatusCode, body)
	}
	// The browser that kept a copy of the cookie is signed out too.
	if id := h.currentUser(t, c); id != "" {
		t.Errorf("currentuser with the signed-out cookie = %q, want nobody", id)
	}
	if h.currentUser(t, other) != tok.User.ID {
		t.Error("signing one session out ended another")
	}
	want := events.SessionRevoked{UserID: tok.User.ID, TokenID: tok.ID, ExpiresAt: tok.ExpiresAt}
	if got := revokedEvents(t, h.db); len(got) != 1 || got[0].UserID != want.UserID || got[0].TokenID != want.TokenID ||
		!got[0].ExpiresAt.Equal(want.ExpiresAt) || got[0].NotBefore != nil {
		t.Fatalf("events = %+v, want one %+v", got, want)
	}

	// Signing out again, with the dead cookie or through the service,
	// publishes nothing new.
	if resp := h.do(t, "POST", "/api/users/signout", "", withCookie(c)); resp.StatusCode != http.StatusOK {
		t.Errorf("second sign out = %d, want 200", resp.StatusCode)
	}
	if err := h.svc.SignOut(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := revokedEvents(t, h.db); len(got) != 1 {
		t.Errorf("%d events after signing out twice, want 1", len(got))
	}
}

func TestSignOutEverywhere(t *testing.T) {
	h := newHarness(t, Config{})
	first := h.signIn(t, "/api/users/signup")
	h.clock.Advance(300 * time.Millisecond)
	second := h.signIn(t, "/api/users/signin")
	resp := h.do(t, "POST", "/api/users/signup", creds("bob@example.com", "password1"))
	bob := sessionCookie(t, resp)
	// Within the second of both sign-ins: issue times are to the millisecond.
	h.clock.Advance(300 * time.Millisecond)
	now := h.clock.Now()
	tok := parse(t, second, now)
	// A session begun in the very millisecond of the sign-out everywhere.
	sameMilli := h.signIn(t, "/api/users/signin")

	resp = h.do(t, "POST", "/api/users/signout-all", "", withCookie(second))
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || body != "{}\n" {
		t.Fatalf("sign out everywhere = %d %q, want 200 {}", resp.StatusCode, body)
	}
	if c := sessionCookie(t, resp); c.Value != "" || c.MaxAge >= 0 {
		t.Errorf("the caller's cookie is not cleared: %s", c.Raw)
	}
	for name, c := range map[string]*http.Cookie{"first": first, "second": second, "same millisecond": sameMilli} {
		if id := h.currentUser(t, c); id != "" {
			t.Errorf("currentuser with ann's %s session = %q, want nobody", name, id)
		}
	}
	if h.currentUser(t, bob) == "" {
		t.Error("bob was signed out by ann's sign out everywhere")
	}
	// A sign-in after has a session again, even within the same
	// millisecond, and a millisecond later.
	for _, wait := range []time.Duration{0, time.Millisecond} {
		h.clock.Advance(wait)
		if again := h.signIn(t, "/api/users/signin"); h.currentUser(t, again) != tok.User.ID {
			t.Errorf("a sign-in %s after signing out everywhere is not signed in", wait)
		}
	}

	nb := now.Add(time.Millisecond) // the millisecond of the sign-out is revoked
	got := revokedEvents(t, h.db)
	if len(got) != 1 || got[0].UserID != tok.User.ID || got[0].TokenID != tok.ID || got[0].NotBefore == nil ||
		!got[0].NotBefore.Equal(nb) || !got[0].ExpiresAt.Equal(nb.Add(session.MaxTTL)) {
		t.Fatalf("events = %+v, want one for %s, token %s, not before %s, kept until %s", got, tok.User.ID, tok.ID, nb, nb.Add(session.MaxTTL))
	}

	// Signed out, there is nobody to sign out everywhere.
	resp = h.do(t, "POST", "/api/users/signout-all", "", withCookie(first))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign out everywhere with a dead cookie = %d, want 401", resp.StatusCode)
	}
	if items := errorBody(t, readBody(t, resp)); items[0].Message != "Not authorized" {
		t.Errorf("401 body %+v", items)
	}
}

// A revocation that cannot be recorded is a 500, not a quiet 200: the token
// lives on, and the client must know. The cookie is cleared all the same.
func TestSignOutFailureIsReported(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.signIn(t, "/api/users/signup")
	h.db.Close()
	resp := h.do(t, "POST", "/api/users/signout", "", withCookie(c))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("sign out with the database gone = %d, want 500", resp.StatusCode)
	}
	if cleared := sessionCookie(t, resp); cleared.MaxAge >= 0 {
		t.Errorf("cookie not cleared: %s", cleared.Raw)
	}
}

// TestRevocationsStore: one row per revocation id, swept once it stops
// mattering, on every engine.
func TestRevocationsStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		st := NewStore(db)
		add := func(id string, rv session.Revocation, at time.Time) bool {
			t.Helper()
			var added bool
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				var err error
				added, err = st.AddRevocation(ctx, tx, id, rv, at)
				return err
			})
			if err != nil {
				t.Fatalf("add %s: %v", id, err)
			}
			return added
		}
		count := func() (n int) {
			t.Helper()
			if err := db.Read().QueryRow(`SELECT count(*) FROM revocations`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tokenRv := session.Revocation{UserID: "u1", TokenID: "j1", ExpiresAt: now.Add(time.Hour)}
		if !add("j1", tokenRv, now) {
			t.Error("first sign-out not added")
		}
		if add("j1", tokenRv, now) {
			t.Error("the same sign-out added twice")
		}
		if !add("e1", session.Revocation{UserID: "u1", NotBefore: now, ExpiresAt: now.Add(2 * time.Hour)}, now) {
			t.Error("sign out everywhere not added")
		}
		if n := count(); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
		// An hour and a half on, the token has expired: its row goes.
		add("j2", session.Revocation{UserID: "u2", TokenID: "j2", ExpiresAt: now.Add(3 * time.Hour)}, now.Add(90*time.Minute))
		var ids []string
		rows, err := db.Read().Query(`SELECT id FROM revocations ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		if len(ids) != 2 || ids[0] != "e1" || ids[1] != "j2" {
			t.Errorf("rows %v after the sweep, want [e1 j2]", ids)
		}
	}, outbox.Migrations, Migrations)
}

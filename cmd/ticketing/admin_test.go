package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// runAdmin runs `ticketing admin args...` with the environment env and
// returns what it printed.
func runAdmin(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, append([]string{"admin"}, args...), testEnv(env), &stdout, &stderr)
	if err != nil {
		return stdout.String(), errors.Join(err, errors.New(stderr.String()))
	}
	return stdout.String(), nil
}

// me is who currentuser says c is, organizer flag included; nil for
// nobody.
func me(c *client) *struct {
	ID, Email string
	Organizer bool
} {
	c.t.Helper()
	var body struct {
		CurrentUser *struct {
			ID, Email string
			Organizer bool
		} `json:"currentUser"`
	}
	if got := c.do("GET", "/api/users/currentuser", nil, &body); got != http.StatusOK {
		c.t.Fatalf("currentuser = %d", got)
	}
	return body.CurrentUser
}

// signIn signs email in on a new client.
func signIn(t *testing.T, base, email string) *client {
	t.Helper()
	c := newClient(t, base)
	if got := c.do("POST", "/api/users/signin", map[string]string{"email": email, "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin %s = %d", email, got)
	}
	return c
}

// TestAdminOrganizer runs `ticketing admin organizer grant|revoke` against
// the database of a running `up` (SQLite in its data dir, and PostgreSQL):
// the grant shows at the account's next sign-in, the revoke at once (the
// account is signed out everywhere) and at the next sign-in, an unknown
// email fails and changes nothing.
func TestAdminOrganizer(t *testing.T) {
	t.Parallel()
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"TICKETING_DATA_DIR": dir}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = freshPostgres(t)
			}
			base, _ := startUp(t, dir, env)
			before := signUp(t, base, "ann@example.com")
			bob := signUp(t, base, "bob@example.com")

			out, err := runAdmin(t, env, "organizer", "grant", "Ann@Example.com")
			if err != nil || out != "ann@example.com is now an organizer, from their next sign-in\n" {
				t.Fatalf("grant = %q, %v", out, err)
			}
			if u := me(before); u == nil || u.Organizer {
				t.Errorf("ann's session from before the grant: %+v, want ann, no organizer until she signs in again", u)
			}
			ann := signIn(t, base, "ann@example.com")
			if u := me(ann); u == nil || u.Email != "ann@example.com" || !u.Organizer {
				t.Fatalf("ann signed in after the grant: %+v, want an organizer", u)
			}
			if u := me(bob); u == nil || u.Organizer {
				t.Errorf("bob: %+v, want no organizer", u)
			}
			if out, err := runAdmin(t, env, "organizer", "grant", "ann@example.com"); err != nil || !strings.Contains(out, "already an organizer: nothing changed") {
				t.Errorf("second grant = %q, %v", out, err)
			}

			out, err = runAdmin(t, env, "organizer", "grant", "carl@example.com")
			if err == nil || !strings.Contains(err.Error(), "no account has this email: carl@example.com") || out != "" {
				t.Errorf("grant of an unknown email = %q, %v; want an error naming it", out, err)
			}

			out, err = runAdmin(t, env, "organizer", "revoke", "ann@example.com")
			if err != nil || out != "ann@example.com is no longer an organizer, and every session of theirs is signed out\n" {
				t.Fatalf("revoke = %q, %v", out, err)
			}
			// The running system relays the sign-out from auth's outbox.
			natsbustest.Eventually(t, 15*time.Second, "ann's organizer session is signed out", func() bool { return me(ann) == nil })
			if u := me(bob); u == nil {
				t.Error("bob was signed out by ann's revoke")
			}
			if u := me(signIn(t, base, "ann@example.com")); u == nil || u.Organizer {
				t.Errorf("ann signed in after the revoke: %+v, want ann, no organizer", u)
			}
			if out, err := runAdmin(t, env, "organizer", "revoke", "ann@example.com"); err != nil || !strings.Contains(out, "was not an organizer: nothing changed") {
				t.Errorf("second revoke = %q, %v", out, err)
			}
		})
	}
}

// TestAdminRefuses: wrong usage, and a data dir that is not `up`'s, fail
// with a clear message and create nothing.
func TestAdminRefuses(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "nothing", args: nil, wantErr: "admin needs organizer grant EMAIL"},
		{name: "unknown subject", args: []string{"users", "grant", "a@example.com"}, wantErr: "admin needs organizer grant EMAIL"},
		{name: "unknown verb", args: []string{"organizer", "promote", "a@example.com"}, wantErr: "admin needs organizer grant EMAIL"},
		{name: "no email", args: []string{"organizer", "grant"}, wantErr: "takes one email"},
		{name: "two emails", args: []string{"organizer", "revoke", "a@example.com", "b@example.com"}, wantErr: "takes one email"},
		{name: "flag after the email", args: []string{"organizer", "grant", "a@example.com", "-data-dir", empty}, wantErr: "takes one email"},
		{name: "bad flag", args: []string{"organizer", "grant", "-no-such-flag", "a@example.com"}, wantErr: "no-such-flag"},
		{name: "not up's data dir", args: []string{"organizer", "grant", "a@example.com"}, wantErr: "no auth database at " + filepath.Join(empty, "auth.db")},
		{name: "not up's data dir by flag", args: []string{"organizer", "revoke", "-data-dir", empty, "a@example.com"}, wantErr: "no auth database at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runAdmin(t, map[string]string{"TICKETING_DATA_DIR": empty}, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
	if names, err := os.ReadDir(empty); err != nil || len(names) != 0 {
		t.Errorf("the data dir holds %v (%v) after refused commands, want nothing", names, err)
	}
	if out, err := runAdmin(t, nil, "-h"); err != nil || !strings.Contains(out, "ticketing admin organizer grant") {
		t.Errorf("admin -h = %q, %v", out, err)
	}
}

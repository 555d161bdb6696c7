package auth

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var testKey = []byte("test-key-0123456789abcdef0123456789")

// harness is the auth service behind its routes, wrapped as the wiring
// wraps them.
type harness struct {
	tb      testing.TB
	svc     *Service
	handler http.Handler
	clock   *clocktest.Clock
	db      *sqldb.DB
}

// newHarness opens a fresh SQLite database; cfg's zero Key and Now get test
// values.
func newHarness(tb testing.TB, cfg Config) *harness {
	tb.Helper()
	return newHarnessDB(tb, sqldbtest.Open(tb, sqldb.SQLite, outbox.Migrations, Migrations), cfg)
}

func newHarnessDB(tb testing.TB, db *sqldb.DB, cfg Config) *harness {
	tb.Helper()
	c := clocktest.New(clocktest.Start)
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.Revoked == nil {
		cfg.Revoked = session.NewRevocations()
	}
	log := slog.New(slog.DiscardHandler)
	ob := outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{})
	svc := New(db, ob, log, cfg)
	tb.Cleanup(func() { svc.Close() })
	mux := http.NewServeMux()
	svc.Routes(mux)
	h := httpapi.EdgeVerifying(mux, log, session.Verifier{Key: cfg.Key, Now: c.Now, Revoked: cfg.Revoked}, nil)
	return &harness{tb: tb, svc: svc, handler: h, clock: c, db: db}
}

// reqOpt adjusts a request before it is served.
type reqOpt func(*http.Request)

func from(remoteAddr string) reqOpt {
	return func(r *http.Request) { r.RemoteAddr = remoteAddr }
}

func forwardedFor(xff string) reqOpt {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", xff) }
}

func withCookie(c *http.Cookie) reqOpt {
	return func(r *http.Request) { r.AddCookie(c) }
}

func (h *harness) do(tb testing.TB, method, path, body string, opts ...reqOpt) *http.Response {
	tb.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, r)
	return w.Result()
}

func creds(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return string(b)
}

func readBody(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return string(b)
}

// errorBody decodes an {"errors":[...]} body.
func errorBody(tb testing.TB, body string) []httpapi.ErrorItem {
	tb.Helper()
	var eb httpapi.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || len(eb.Errors) == 0 {
		tb.Fatalf("not an error body: %q (%v)", body, err)
	}
	return eb.Errors
}

func sessionCookie(tb testing.TB, resp *http.Response) *http.Cookie {
	tb.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == session.CookieName {
			return c
		}
	}
	tb.Fatalf("no %s cookie in %q", session.CookieName, resp.Header.Values("Set-Cookie"))
	return nil
}

// checkCookieFlags asserts the flags every session cookie carries.
func checkCookieFlags(tb testing.TB, c *http.Cookie, secure bool) {
	tb.Helper()
	if !c.HttpOnly {
		tb.Errorf("cookie not HttpOnly: %s", c.Raw)
	}
	if c.SameSite != http.SameSiteLaxMode {
		tb.Errorf("cookie SameSite = %v, want Lax: %s", c.SameSite, c.Raw)
	}
	if c.Path != "/" {
		tb.Errorf("cookie Path = %q, want /: %s", c.Path, c.Raw)
	}
	if c.Secure != secure {
		tb.Errorf("cookie Secure = %v, want %v: %s", c.Secure, secure, c.Raw)
	}
}

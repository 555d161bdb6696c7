package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// withCookie sends one request carrying cookie (a Cookie header, as
// sessionOf returns it) and returns the status: how a stolen or kept copy
// of a cookie is used, whatever the browser that signed out did.
func withCookie(t *testing.T, base, method, path, cookie string) int {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if path == "/api/users/currentuser" && resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"currentUser":null`) {
		return http.StatusUnauthorized // signed out, the way currentuser says it
	}
	return resp.StatusCode
}

// sessionRoutes are requests that need a signed-in caller in each API part:
// signed in they get past the session check (200, or 400 for the empty
// body); signed out they get 401.
var sessionRoutes = []struct{ method, path string }{
	{"GET", "/api/users/currentuser"},
	{"GET", "/api/orders"},
	{"POST", "/api/tickets"},
	{"POST", "/api/payments"},
	{"GET", "/api/events/mine"},
}

// signedInEverywhere reports whether cookie is accepted by every part.
func signedInEverywhere(t *testing.T, base, cookie string) bool {
	t.Helper()
	for _, r := range sessionRoutes {
		if withCookie(t, base, r.method, r.path, cookie) == http.StatusUnauthorized {
			return false
		}
	}
	return true
}

// signedOutEverywhere reports whether every part refuses cookie.
func signedOutEverywhere(t *testing.T, base, cookie string) bool {
	t.Helper()
	for _, r := range sessionRoutes {
		if withCookie(t, base, r.method, r.path, cookie) != http.StatusUnauthorized {
			return false
		}
	}
	return true
}

// TestUpSignOutRevokes: after a sign-out, a copy of the cookie is refused by
// every part within a second; after a sign-out everywhere, every session of
// the user is, and nobody else's.
func TestUpSignOutRevokes(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)

	ann := signUp(t, base, "ann@example.com")
	kept := sessionOf(t, ann)
	if !signedInEverywhere(t, base, kept) {
		t.Fatal("a fresh session is refused somewhere")
	}
	if got := ann.do("POST", "/api/users/signout", nil, nil); got != http.StatusOK {
		t.Fatalf("signout = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "every part refuses the signed-out cookie", func() bool { return signedOutEverywhere(t, base, kept) })

	// Two sessions of bob and one of carl; bob signs out everywhere from one.
	bob := signUp(t, base, "bob@example.com")
	bobElsewhere := newClient(t, base)
	if got := bobElsewhere.do("POST", "/api/users/signin", map[string]string{"email": "bob@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin = %d", got)
	}
	carl := signUp(t, base, "carl@example.com")
	bobKept, elsewhere := sessionOf(t, bob), sessionOf(t, bobElsewhere)
	if got := bob.do("POST", "/api/users/signout-all", nil, nil); got != http.StatusOK {
		t.Fatalf("signout-all = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "every part refuses both of bob's sessions", func() bool {
		return signedOutEverywhere(t, base, bobKept) && signedOutEverywhere(t, base, elsewhere)
	})
	if !signedInEverywhere(t, base, sessionOf(t, carl)) {
		t.Error("bob signing out everywhere ended carl's session")
	}
	again := newClient(t, base)
	if got := again.do("POST", "/api/users/signin", map[string]string{"email": "bob@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin after signing out everywhere = %d", got)
	}
	if !signedInEverywhere(t, base, sessionOf(t, again)) {
		t.Error("a new session after signing out everywhere is refused")
	}
}

// TestServeSignOutReachesEveryProcess runs auth and two replicas of orders
// as `ticketing serve` processes of their own on one NATS server. A
// sign-out at auth reaches both orders processes within a second (a durable
// consumer, which replicas share, would tell only one), and an orders
// process started afterwards refuses the token from its first request.
func TestServeSignOutReachesEveryProcess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	ns := natsbustest.StartServer(t)
	env := append(os.Environ(), runMainEnv+"=1",
		"NATS_URL="+ns.ClientURL(),
		"DATABASE_URL="+freshPostgres(t),
		"JWT_KEY="+strings.Repeat("signout-test-key", 3),
		"TICKET_SIGNING_KEY="+testTicketSigningKey,
		"COOKIE_SECURE=false",
		"AUTH_RATE_PER_MINUTE=0",
		"LOG_LEVEL=warn",
	)
	probe := &http.Client{Timeout: time.Second}
	serve := func(name string) string {
		t.Helper()
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "serve", name)
		// A data dir each: without PostgreSQL each orders replica has a
		// SQLite file of its own (this test needs no shared orders).
		cmd.Env = append(env, "TICKETING_ADDR="+addr, "TICKETING_DATA_DIR="+t.TempDir())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		natsbustest.Eventually(t, 60*time.Second, name+" is ready", func() bool {
			resp, err := probe.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return "http://" + addr
	}
	auth := serve("auth")
	orders := []string{serve("orders"), serve("orders")}

	ann := signUp(t, auth, "ann@example.com")
	kept := sessionOf(t, ann)
	for i, o := range orders {
		if got := withCookie(t, o, "GET", "/api/orders", kept); got != http.StatusOK {
			t.Fatalf("orders %d with a fresh session = %d, want 200", i, got)
		}
	}
	if got := ann.do("POST", "/api/users/signout", nil, nil); got != http.StatusOK {
		t.Fatalf("signout = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "both orders processes refuse the signed-out cookie", func() bool {
		return withCookie(t, orders[0], "GET", "/api/orders", kept) == http.StatusUnauthorized &&
			withCookie(t, orders[1], "GET", "/api/orders", kept) == http.StatusUnauthorized
	})

	bob := signUp(t, auth, "bob@example.com")
	bobKept := sessionOf(t, bob)
	if got := bob.do("POST", "/api/users/signout-all", nil, nil); got != http.StatusOK {
		t.Fatalf("signout-all = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "both orders processes refuse bob's session", func() bool {
		return withCookie(t, orders[0], "GET", "/api/orders", bobKept) == http.StatusUnauthorized &&
			withCookie(t, orders[1], "GET", "/api/orders", bobKept) == http.StatusUnauthorized
	})

	// A process that starts later learns both revocations before it serves.
	late := serve("orders")
	for name, c := range map[string]string{"ann's signed-out cookie": kept, "bob's": bobKept} {
		if got := withCookie(t, late, "GET", "/api/orders", c); got != http.StatusUnauthorized {
			t.Errorf("a new orders process accepts %s: %d, want 401", name, got)
		}
	}
}

// TestUpWebSignOutEverywhere: the web client's "Sign out everywhere" ends
// the account's sessions in other browsers too, and the page's own.
func TestUpWebSignOutEverywhere(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := newWebBrowser(t, base)
	b.get("/auth/signup")
	webRedirect(t, "sign up", b.post("/auth/signup", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}}), "/")
	u, _ := url.Parse(base)
	var mine string
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == session.CookieName {
			mine = session.CookieName + "=" + c.Value
		}
	}
	phone := newClient(t, base)
	if got := phone.do("POST", "/api/users/signin", map[string]string{"email": "ann@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin = %d", got)
	}
	onPhone := sessionOf(t, phone)

	webWant(t, "sign-out page", b.get("/auth/signout"), http.StatusOK, "Sign out everywhere", `name="everywhere" value="1"`)
	webRedirect(t, "sign out everywhere", b.post("/auth/signout", url.Values{"everywhere": {"1"}}), "/")
	natsbustest.Eventually(t, time.Second, "the phone's and the page's sessions are refused", func() bool {
		return withCookie(t, base, "GET", "/api/orders", onPhone) == http.StatusUnauthorized &&
			withCookie(t, base, "GET", "/api/orders", mine) == http.StatusUnauthorized
	})
}

// TestUpMovesSignOutsToTheirStream: a data dir of the version that kept
// sign-outs in TICKETING (session.> among its subjects) is moved at the
// next start: TICKETING drops session.>, SESSIONS takes it, and a sign-out
// stored before the upgrade still ends its session in every part.
func TestUpMovesSignOutsToTheirStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, app := startUp(t, dir, nil)
	ann := signUp(t, base, "ann@example.com")
	kept := sessionOf(t, ann)
	var me struct {
		CurrentUser struct {
			ID string `json:"id"`
		} `json:"currentUser"`
	}
	if got := ann.do("GET", "/api/users/currentuser", nil, &me); got != http.StatusOK || me.CurrentUser.ID == "" {
		t.Fatalf("currentuser = %d, %+v", got, me)
	}
	app.Close(context.Background())

	// The previous layout: no SESSIONS, TICKETING captures session.> and
	// holds ann's "sign out everywhere".
	connect := func(stream natsbus.StreamConfig) *natsbus.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := natsbus.Connect(ctx, natsbus.Config{DataDir: dir, Name: t.Name(), Stream: stream}, natsbustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := connect(natsbustest.Stream)
	if err := b.JetStream().DeleteStream(context.Background(), events.SessionsStream); err != nil {
		t.Fatal(err)
	}
	b.Close()
	previous := natsbustest.Stream
	previous.Subjects = append(slices.Clone(events.StreamSubjects), "session.>")
	b = connect(previous)
	now := time.Now()
	data, err := json.Marshal(events.SessionRevoked{UserID: me.CurrentUser.ID, NotBefore: &now, ExpiresAt: now.Add(session.MaxTTL)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.PublishBatch(ctx, []natsbus.Outgoing{{ID: "signout-before-upgrade", Subject: events.SubjectSessionRevoked, Data: data}})[0]; err != nil {
		t.Fatal(err)
	}
	b.Close()

	base, app = startUp(t, dir, nil)
	if !signedOutEverywhere(t, base, kept) {
		t.Error("a session signed out before the upgrade is accepted after it")
	}
	for name, want := range map[string][]string{events.Stream: events.StreamSubjects, events.SessionsStream: events.SessionsStreamSubjects} {
		s, err := app.bus.JetStream().Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, want) {
			t.Errorf("stream %s captures %v, want %v", name, got, want)
		}
	}
}

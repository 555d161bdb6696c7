package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// freshPostgres creates an empty database for one test and returns its URL,
// or "" when no PostgreSQL is configured (then the parts use SQLite files).
// A database of its own lets every part own the schema named after it, as
// in a deployment, without meeting another test's.
func freshPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv(sqldbtest.PostgresURLEnv)
	if base == "" {
		sqldbtest.Engines(t) // fails in CI, where PostgreSQL must be used
		return ""
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "ticketing_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestServeSeedFlow runs every part as its own `serve` server, as a
// deployment does — external NATS, PostgreSQL (when configured), one shared
// JWT key, the gateway proxying to the others — and walks the seed flow
// through the gateway.
func TestServeSeedFlow(t *testing.T) {
	t.Parallel()
	ns := natsbustest.StartServer(t)
	env := map[string]string{
		"TICKETING_ADDR":       "127.0.0.1:0",
		"TICKETING_DATA_DIR":   t.TempDir(),
		"NATS_URL":             ns.ClientURL(),
		"DATABASE_URL":         freshPostgres(t),
		"JWT_KEY":              strings.Repeat("serve-test-key-", 3),
		"TICKET_SIGNING_KEY":   testTicketSigningKey,
		"COOKIE_SECURE":        "false", // the test talks plain HTTP
		"AUTH_RATE_PER_MINUTE": "0",
		"EXPIRATION_WINDOW":    "3s",
	}
	start := func(name string) string {
		t.Helper()
		return startServe(t, name, env)
	}
	for _, p := range []struct{ name, env string }{
		{"auth", "AUTH_URL"}, {"tickets", "TICKETS_URL"}, {"orders", "ORDERS_URL"},
		{"payments", "PAYMENTS_URL"}, {"events", "EVENTS_URL"}, {"expiration", ""},
	} {
		u := start(p.name)
		if p.env != "" {
			env[p.env] = u
		}
		if got := newClient(t, u).do("GET", "/readyz", nil, nil); got != http.StatusOK {
			t.Fatalf("%s /readyz = %d", p.name, got)
		}
	}
	// The web part calls the API through the gateway, which starts last:
	// give the gateway its address up front.
	gatewayAddr := freeAddr(t)
	env["GATEWAY_URL"] = "http://" + gatewayAddr
	env["WEB_URL"] = start("web")
	if got := newClient(t, env["WEB_URL"]).do("GET", "/readyz", nil, nil); got != http.StatusOK {
		t.Fatalf("web /readyz = %d", got)
	}
	env["TICKETING_ADDR"] = gatewayAddr
	base := start("gateway")

	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	tk, first := sellAndReserve(t, seller, buyer, "Served show")
	natsbustest.Eventually(t, 6*time.Second, "the unpaid order expires", func() bool { return orderStatus(buyer, first.ID) == "cancelled" })
	natsbustest.Eventually(t, 5*time.Second, "the ticket is listed again", func() bool { return listed(buyer, tk.ID) })
	// The buyer whose order expired waits one window (3 s) to reserve the
	// same ticket again.
	var second orderJSON
	natsbustest.Eventually(t, 10*time.Second, "the ticket can be reserved again", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &second) == http.StatusCreated
	})
	if got := pay(t, buyer, second.ID, "tok_visa"); got != http.StatusCreated {
		t.Fatalf("pay = %d, want 201", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, second.ID) == "complete" })
	// The web part, through the gateway, renders the ticket list from the API.
	resp, err := http.Get(base + "/?q=Served")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index through the gateway = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(page), "Tickets for sale") {
		t.Fatalf("index through the gateway is not the ticket list:\n%s", page)
	}
	// The events part, through the gateway: an organizer's event is listed.
	asOrganizer(t, seller, env["JWT_KEY"])
	var ev eventJSON
	if got := seller.do("POST", "/api/events", map[string]any{"name": "Served night", "venue": "Hall",
		"startsAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "faceValue": 10, "capacity": 1}, &ev); got != http.StatusCreated {
		t.Fatalf("create an event through the gateway = %d", got)
	}
	var evs []eventJSON
	if buyer.do("GET", "/api/events", nil, &evs); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events through the gateway: %+v", evs)
	}
	// A form posted from another site reaches the web part, which answers
	// with its error page, not the gateway's JSON.
	req, _ := http.NewRequest(http.MethodPost, base+"/tickets/new", strings.NewReader("title=Forged&price=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(page), "Request refused") {
		t.Fatalf("cross-site form through the gateway = %d:\n%s", resp.StatusCode, page)
	}
	// Each process serves its own metrics.
	text := scrapeText(t, env["ORDERS_URL"]+"/metrics")
	for _, w := range []string{
		`ticketing_http_requests_total{code="201",route="POST /api/orders",service="orders"} 2`,
		`ticketing_events_handled_total{consumer="orders-expiration-complete",outcome="ack"} 1`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("orders /metrics lacks %s", w)
		}
	}
	if text := scrapeText(t, base+"/metrics"); !strings.Contains(text, `service="gateway"`) {
		t.Errorf("gateway /metrics lacks its requests")
	}
}

// testTicketSigningKey is the TICKET_SIGNING_KEY of the tests' `serve`
// layouts: the base64 of the seed 0x00, 0x01, … 0x1f.
const testTicketSigningKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// startServe runs `serve name` in-process with env as its environment,
// closed when the test ends, and returns its base URL.
func startServe(t *testing.T, name string, env map[string]string) string {
	t.Helper()
	return "http://" + serveApp(t, name, env).Addr()
}

// serveApp is startServe returning the App. SHUTDOWN_GRACE is 0 unless env
// sets it: a test's cleanup need not wait for balancers that are not there.
func serveApp(t *testing.T, name string, env map[string]string) *App {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok || k != "SHUTDOWN_GRACE" {
			return v
		}
		return "0"
	}
	cfg, err := parseConfig(flag.NewFlagSet(name, flag.ContinueOnError), nil, getenv, modeServe)
	if err != nil {
		t.Fatal(err)
	}
	cfg.passwordHashing = &testPasswordHashing
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := Serve(ctx, name, cfg, natsbustest.Logger(t))
	if err != nil {
		t.Fatalf("serve %s: %v", name, err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })
	return app
}

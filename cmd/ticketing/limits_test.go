package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// lbAddr is where these tests' load balancer connects from: a loopback
// address of its own, so that it can be trusted by the front door alone.
const lbAddr = "127.0.0.4"

// browserAt is a browser (JavaScript off) that connects from the loopback
// address ip and, when xff is set, sends it as X-Forwarded-For: from lbAddr
// that is the load balancer naming the browser; from another address it is
// a browser trying to pass for someone else.
func browserAt(t *testing.T, base, ip, xff string) *webBrowser {
	t.Helper()
	b := newWebBrowser(t, base)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	b.http.Transport = forwarding{xff: xff, rt: &http.Transport{DialContext: dialer.DialContext}}
	return b
}

type forwarding struct {
	xff string
	rt  http.RoundTripper
}

func (f forwarding) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.xff != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", f.xff)
	}
	return f.rt.RoundTrip(r)
}

// webSignInLimitsEachBrowser walks web-form sign-ins with
// AUTH_RATE_PER_MINUTE=2 and a load balancer at lbAddr that the front door
// trusts: each browser's failures count against its own address, carried
// through the web client and the gateway, never against everyone behind the
// load balancer, and a browser's own X-Forwarded-For is not believed.
func webSignInLimitsEachBrowser(t *testing.T, base string) {
	signIn := func(b *webBrowser, email, password string) webPage {
		t.Helper()
		b.get("/auth/signin")
		return b.post("/auth/signin", url.Values{"email": {email}, "password": {password}})
	}
	const tooMany = "Too many attempts"
	owner := browserAt(t, base, lbAddr, "198.51.100.50")
	owner.get("/auth/signup")
	webRedirect(t, "sign up", owner.post("/auth/signup", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}}), "/")

	// Two browsers behind the load balancer.
	x := browserAt(t, base, lbAddr, "203.0.113.1")
	for range 2 {
		webWant(t, "wrong password", x.follow("wrong password", signIn(x, "ann@example.com", "wrong horse"), "/auth/signin"), http.StatusOK, "do not match")
	}
	webWant(t, "third wrong password", x.follow("third wrong password", signIn(x, "ann@example.com", "wrong horse"), "/auth/signin"), http.StatusOK, tooMany)
	y := browserAt(t, base, lbAddr, "203.0.113.2")
	webRedirect(t, "another browser behind the proxy signs in", signIn(y, "ann@example.com", "correct horse"), "/")

	// A browser reaching us directly cannot rotate its address.
	for _, claim := range []string{"203.0.113.10", "203.0.113.11"} {
		s := browserAt(t, base, "127.0.0.2", claim)
		webWant(t, "wrong password", s.follow("wrong password", signIn(s, "nobody@example.com", "wrong horse"), "/auth/signin"), http.StatusOK, "do not match")
	}
	s := browserAt(t, base, "127.0.0.2", "203.0.113.12")
	webWant(t, "third wrong password under another claimed address",
		s.follow("third wrong password", signIn(s, "nobody@example.com", "wrong horse"), "/auth/signin"), http.StatusOK, tooMany)
	z := browserAt(t, base, "127.0.0.3", "")
	webRedirect(t, "a browser at another address signs in", signIn(z, "ann@example.com", "correct horse"), "/")
}

// In `up` the web client calls the gateway in-process: only the load
// balancer needs trusting.
func TestUpWebSignInLimitsEachBrowser(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), map[string]string{
		"AUTH_RATE_PER_MINUTE": "2",
		"TRUSTED_PROXIES":      lbAddr,
	})
	webSignInLimitsEachBrowser(t, base)
}

// In `serve` the browser's address crosses the gateway to the web, the web's
// call back through the gateway, and the gateway to auth. Trust is as the
// README has it: every part trusts the gateway and the web (127.0.0.1
// here), the gateway also the load balancer.
func TestServeWebSignInLimitsEachBrowser(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TICKETING_ADDR":       "127.0.0.1:0",
		"TICKETING_DATA_DIR":   t.TempDir(),
		"DATABASE_URL":         freshPostgres(t),
		"NATS_URL":             natsbustest.StartServer(t).ClientURL(), // auth publishes sign-outs
		"JWT_KEY":              strings.Repeat("serve-test-key-", 3),
		"TICKET_SIGNING_KEY":   testTicketSigningKey,
		"COOKIE_SECURE":        "false", // the test talks plain HTTP
		"AUTH_RATE_PER_MINUTE": "2",
		// Parts this test does not start: nothing here calls them.
		"TICKETS_URL": "http://127.0.0.1:1", "ORDERS_URL": "http://127.0.0.1:1", "PAYMENTS_URL": "http://127.0.0.1:1",
	}
	start := func(name, trusted string) string {
		t.Helper()
		env["TRUSTED_PROXIES"] = trusted
		return startServe(t, name, env)
	}
	env["AUTH_URL"] = start("auth", "127.0.0.1")
	gatewayAddr := freeAddr(t)
	env["GATEWAY_URL"] = "http://" + gatewayAddr
	env["WEB_URL"] = start("web", "127.0.0.1")
	env["TICKETING_ADDR"] = gatewayAddr
	webSignInLimitsEachBrowser(t, start("gateway", "127.0.0.1, "+lbAddr))
}

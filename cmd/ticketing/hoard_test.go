package main

import (
	"fmt"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forwardedFor adds the X-Forwarded-For a proxy in front of the gateway
// would add.
type forwardedFor struct {
	addr string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.next.RoundTrip(r)
}

// reserveStatus reserves ticketID as c once orders knows the ticket, and
// returns the status and the Retry-After header.
func reserveStatus(t *testing.T, c *client, ticketID string) (int, string) {
	t.Helper()
	var (
		status int
		retry  string
	)
	natsbustest.Eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
		req, err := http.NewRequest("POST", c.base+"/api/orders", strings.NewReader(fmt.Sprintf(`{"ticketId":%q}`, ticketID)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status, retry = resp.StatusCode, resp.Header.Get("Retry-After")
		return status != http.StatusNotFound
	})
	return status, retry
}

// TestUpHoardingLimits: through the gateway of `up`, the accounts of one
// client address (named by a trusted proxy's X-Forwarded-For) share
// MAX_PENDING_ORDERS_PER_ADDRESS; a buyer who cancels cannot reserve the
// same ticket again at once; a seller stops at MAX_LISTINGS.
func TestUpHoardingLimits(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), map[string]string{
		"TRUSTED_PROXIES":                "127.0.0.1/32",
		"MAX_PENDING_ORDERS":             "2",
		"MAX_PENDING_ORDERS_PER_ADDRESS": "3",
		"MAX_LISTINGS":                   "6",
	})
	seller := signUp(t, base, "seller@example.com")
	var ids []string
	for i := range 6 {
		var tk ticketJSON
		if got := seller.do("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Show %d", i), "price": 10}, &tk); got != http.StatusCreated {
			t.Fatalf("listing %d = %d", i, got)
		}
		ids = append(ids, tk.ID)
	}
	if got := seller.do("POST", "/api/tickets", map[string]any{"title": "One too many", "price": 10}, nil); got != http.StatusTooManyRequests {
		t.Fatalf("listing past MAX_LISTINGS = %d, want 429", got)
	}

	from := func(email, addr string) *client {
		c := signUp(t, base, email)
		c.http.Transport = forwardedFor{addr: addr, next: http.DefaultTransport}
		return c
	}
	ann1 := from("ann1@example.com", "203.0.113.7")
	ann2 := from("ann2@example.com", "203.0.113.7")
	ann3 := from("ann3@example.com", "203.0.113.7")
	bob := from("bob@example.com", "203.0.113.8")

	for i, c := range []*client{ann1, ann1, ann2} {
		if got, _ := reserveStatus(t, c, ids[i]); got != http.StatusCreated {
			t.Fatalf("hold %d from the address = %d, want 201", i, got)
		}
	}
	got, retry := reserveStatus(t, ann3, ids[3])
	if secs, _ := strconv.Atoi(retry); got != http.StatusTooManyRequests || secs < 800 || secs > 900 {
		t.Fatalf("a third account past the address's bound = %d Retry-After %q, want 429 within the 15 min window", got, retry)
	}
	if got, _ := reserveStatus(t, bob, ids[3]); got != http.StatusCreated {
		t.Fatalf("another address = %d, want 201", got)
	}

	// bob cancels: he waits a window for that ticket, not for others.
	var mine []orderJSON
	bob.do("GET", "/api/orders", nil, &mine)
	if len(mine) != 1 {
		t.Fatalf("bob's orders = %+v", mine)
	}
	if got := bob.do("DELETE", "/api/orders/"+mine[0].ID, nil, nil); got != http.StatusNoContent {
		t.Fatalf("cancel = %d", got)
	}
	got, retry = reserveStatus(t, bob, ids[3])
	if secs, _ := strconv.Atoi(retry); got != http.StatusTooManyRequests || secs < 800 || secs > 900 {
		t.Fatalf("re-reserve after cancelling = %d Retry-After %q, want 429 for about a window", got, retry)
	}
	if got, _ := reserveStatus(t, bob, ids[4]); got != http.StatusCreated {
		t.Fatalf("bob reserves another ticket = %d, want 201", got)
	}
}

// TestWebListingsCap: the sell form past MAX_LISTINGS says why, keeping
// what the seller typed.
func TestWebListingsCap(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), map[string]string{"MAX_LISTINGS": "1"})
	seller := webSignUp(t, base, "seller@example.com")
	webSell(t, seller, "Gig", "20")
	seller.get("/tickets/new")
	webWant(t, "sell past the cap", seller.follow("sell past the cap", seller.post("/tickets/new", url.Values{"title": {"Another gig"}, "price": {"20"}}), "/tickets/new"),
		http.StatusOK, "You already have the most tickets on sale allowed", `value="Another gig"`)
}

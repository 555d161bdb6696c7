package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// handledCount sums ticketing_events_handled_total of consumer over the
// outcomes given.
func handledCount(t *testing.T, base, consumer string, outcomes ...string) int {
	t.Helper()
	text := scrapeText(t, base+"/metrics")
	n := 0
	for _, o := range outcomes {
		re := regexp.MustCompile(`ticketing_events_handled_total\{consumer="` + regexp.QuoteMeta(consumer) +
			`",outcome="` + regexp.QuoteMeta(o) + `"\} (\d+)`)
		if m := re.FindStringSubmatch(text); m != nil {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
	}
	return n
}

// TestUpDatabaseOutage cuts PostgreSQL away from every part (new
// connections refused, open ones dropped) while unpaid orders fall due,
// for longer than an event's delivery limit (made short here: 3 deliveries,
// 200 ms apart at most), then restores it.
//
// While it is down, every API route that needs the database answers 503
// with Retry-After and the code "unavailable", never a 500; currentuser,
// which reads only the session token, still answers 200. The expiries
// that fell due meanwhile are retried for as long as the outage lasts,
// never given up: once it is back every order is cancelled and its ticket
// is on sale again, and nothing was terminated.
func TestUpDatabaseOutage(t *testing.T) {
	t.Parallel()
	dbURL := freshPostgres(t)
	if dbURL == "" {
		t.Skip("a database outage is a PostgreSQL server's; SQLite's (a lock held past the busy timeout) is covered in sqldb")
	}
	proxied, outage := sqldbtest.Cuttable(t, dbURL)
	const (
		limit = 3
		key   = "outage-test-key-outage-test-key-"
	)
	base, _ := startUp(t, t.TempDir(), map[string]string{
		"JWT_KEY":      key,
		"DATABASE_URL": proxied,
		// Long enough for the setup below (an event's ticket bought and
		// paid for under -race) to finish before the orders fall due, so
		// they fall due during the outage; 2 s once let buyHeld's own
		// order expire before its payment.
		"EXPIRATION_WINDOW":    "5s",
		"EVENT_MAX_DELIVERIES": strconv.Itoa(limit),
		"EVENT_RETRY_MAX":      "200ms",
	})
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	var (
		tickets []ticketJSON
		orders  []orderJSON
	)
	for i := range 3 {
		tk, o := sellAndReserve(t, seller, buyer, fmt.Sprintf("Outage show %d", i))
		tickets, orders = append(tickets, tk), append(orders, o)
	}
	var spare ticketJSON // on sale, for the routes below
	if got := seller.do("POST", "/api/tickets", map[string]any{"title": "Spare show", "price": 5}, &spare); got != http.StatusCreated {
		t.Fatalf("create ticket = %d", got)
	}
	// An organizer's event with a ticket held, and its entry code: the
	// event, code and check-in routes below then reach the database rather
	// than stopping at a 403 or 404 decided without it.
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	show := createOnSaleEvent(t, org, "Outage night", 2)
	held := buyHeld(t, buyer, show)
	var entry codeJSON
	if got := buyer.do("GET", "/api/tickets/"+held+"/code", nil, &entry); got != http.StatusOK {
		t.Fatalf("GET code = %d", got)
	}
	starts := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)

	outage.Cut()
	for _, r := range []struct {
		who          *client
		method, path string
		body         any
	}{
		{buyer, "GET", "/api/tickets", nil},
		{buyer, "GET", "/api/tickets?q=show", nil},
		{buyer, "GET", "/api/tickets/" + tickets[0].ID, nil},
		{seller, "GET", "/api/tickets/mine", nil},
		{seller, "POST", "/api/tickets", map[string]any{"title": "New show", "price": 10}},
		{seller, "PUT", "/api/tickets/" + tickets[0].ID, map[string]any{"title": "Renamed", "price": 10}},
		{buyer, "GET", "/api/orders", nil},
		{buyer, "GET", "/api/orders/" + orders[0].ID, nil},
		{buyer, "POST", "/api/orders", map[string]string{"ticketId": spare.ID}},
		{buyer, "DELETE", "/api/orders/" + orders[0].ID, nil},
		{buyer, "POST", "/api/payments", map[string]string{"orderId": orders[0].ID, "token": "tok_visa"}},
		{newClient(t, base), "POST", "/api/users/signin", map[string]string{"email": "buyer@example.com", "password": "password123"}},
		{newClient(t, base), "POST", "/api/users/signup", map[string]string{"email": "new@example.com", "password": "password123"}},
		{buyer, "GET", "/api/events", nil},
		{buyer, "GET", "/api/events?q=outage", nil},
		{buyer, "GET", "/api/events/" + show, nil},
		{org, "GET", "/api/events/mine", nil},
		{org, "POST", "/api/events", map[string]any{"name": "New night", "venue": "Paradiso", "startsAt": starts, "faceValue": "40", "capacity": 2}},
		{org, "PUT", "/api/events/" + show, map[string]any{"name": "Renamed night"}},
		{org, "POST", "/api/events/" + show + "/staff", map[string]string{"email": "door@example.com"}},
		{buyer, "GET", "/api/tickets/" + held + "/code", nil},
		{org, "POST", "/api/checkins", map[string]string{"code": entry.Code, "eventId": show}},
		{org, "POST", "/api/checkins", map[string]string{"code": entry.Short, "eventId": show}},
	} {
		status, retryAfter, code := rawStatus(t, r.who, r.method, r.path, r.body)
		if status != http.StatusServiceUnavailable || retryAfter == "" || code != "unavailable" {
			t.Errorf("%s %s with the database down = %d, Retry-After %q, code %q; want 503, a Retry-After, unavailable",
				r.method, r.path, status, retryAfter, code)
		}
	}
	// Who is signed in is read from the session token alone (revocations
	// come from the bus, kept in memory): currentuser needs no database and
	// still answers during the outage.
	var me currentUser
	if got := buyer.do("GET", "/api/users/currentuser", nil, &me); got != http.StatusOK || me.CurrentUser == nil || me.CurrentUser.Email != "buyer@example.com" {
		t.Errorf("GET /api/users/currentuser with the database down = %d %+v, want 200 and the buyer", got, me.CurrentUser)
	}

	// The expiries fall due and are delivered to orders, which cannot
	// reach its database: wait until the outage has lasted well past the
	// delivery limit of each (or until they were given up, without the
	// fix: then the orders below stay unpaid for good).
	const consumer = "orders-expiration-complete"
	natsbustest.Eventually(t, 30*time.Second, "the outage outlasts the delivery limit", func() bool {
		return handledCount(t, base, consumer, "unavailable", "retry", "terminated") >= len(orders)*(limit+3) ||
			handledCount(t, base, consumer, "terminated") >= len(orders)
	})
	outage.Restore()

	// Generous deadlines after the restore: under -race beside the other
	// parallel tests a CI run once needed more than 30 s here (the cause was
	// not found; alone the test takes 5 s).
	natsbustest.Eventually(t, 90*time.Second, "every order that fell due is cancelled", func() bool {
		for _, o := range orders {
			if orderStatus(buyer, o.ID) != "cancelled" {
				return false
			}
		}
		return true
	})
	natsbustest.Eventually(t, 90*time.Second, "their tickets are on sale again", func() bool {
		for _, tk := range tickets {
			if !listed(buyer, tk.ID) {
				return false
			}
		}
		return true
	})
	if n := handledCount(t, base, consumer, "unavailable"); n < len(orders)*limit {
		t.Errorf("%s saw %d deliveries during the outage, want at least %d (past the limit)", consumer, n, len(orders)*limit)
	}
	text := scrapeText(t, base+"/metrics")
	if regexp.MustCompile(`outcome="terminated"\} [1-9]`).MatchString(text) {
		t.Errorf("events were terminated during the outage:\n%s", regexp.MustCompile(`(?m)^ticketing_events_handled_total.*terminated.*$`).FindAllString(text, -1))
	}
	if regexp.MustCompile(`code="500"`).MatchString(text) {
		t.Errorf("a request answered 500 during the outage")
	}
}

// rawStatus sends a JSON request as c and returns the status, the
// Retry-After header and the first error code of the body.
func rawStatus(t *testing.T, c *client, method, path string, body any) (status int, retryAfter, code string) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var eb struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&eb)
	if len(eb.Errors) > 0 {
		code = eb.Errors[0].Code
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code
}

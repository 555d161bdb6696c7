package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/ticketing/ticketing/internal/apidoc"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/shows"
)

// The API reference (internal/apidoc/openapi.yaml) is checked against the
// code twice: every route a part registers is documented and every
// documented route is registered (TestOpenAPIDocumentsEveryRoute), and the
// answers of a real run of `up` validate against it
// (TestOpenAPIMatchesRecordedAnswers).

// loadAPIDoc parses and validates the embedded document.
func loadAPIDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.YAML)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// errorCodes is the list of error codes the document gives (the Error
// schema's enum), read once for every test that checks answers.
var errorCodes = sync.OnceValues(func() ([]string, error) {
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.YAML)
	if err != nil {
		return nil, err
	}
	var codes []string
	for _, v := range doc.Components.Schemas["ErrorItem"].Value.Properties["code"].Value.Enum {
		codes = append(codes, fmt.Sprint(v))
	}
	if len(codes) == 0 {
		return nil, errors.New("openapi.yaml: ErrorItem's code lists no values")
	}
	return codes, nil
})

// documentedErrorCodes is the document's list of error codes.
func documentedErrorCodes(t *testing.T) []string {
	t.Helper()
	codes, err := errorCodes()
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

// documentedRoutes lists the document's operations as ServeMux patterns
// ("GET /api/tickets/{id}").
func documentedRoutes(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// registeredRoutes reads the "METHOD /path" patterns registered on a
// ServeMux (a call of HandleFunc or Handle whose first argument is such a
// string literal) in the non-test Go files of dirs. The muxes cannot list
// their own patterns; the source they are built from can. A pattern that is
// not a literal cannot be read, so it fails the test instead of hiding.
func registeredRoutes(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a route whose pattern is not a string literal: document it and read it here", fset.Position(call.Pos()))
					return true
				}
				pattern, _ := strconv.Unquote(lit.Value)
				if strings.HasPrefix(pattern, "/debug/pprof/") {
					// The Go runtime's profiles (PPROF=true, on the
					// metrics listener only) are a tool's, not the API.
					return true
				}
				if method, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/") {
					out = append(out, method+" "+path)
				} else if pattern != "/" { // the catch-all: the gateway's, or the web client's
					t.Errorf("%s: route %q names no method", fset.Position(call.Pos()), pattern)
				}
				return true
			})
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestOpenAPIDocumentsEveryRoute: the routes every API part registers
// (each part of the catalog with a gateway prefix), the health routes
// every process serves, /metrics and the document's own route are exactly
// the documented ones. The web client's HTML pages are not the API.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadAPIDoc(t)
	dirs := []string{".", "../../internal/platform/httpapi"}
	for _, s := range catalog() {
		if s.prefix != "" {
			dirs = append(dirs, "../../internal/"+partPackage(s.name))
		}
	}
	registered, documented := registeredRoutes(t, dirs...), documentedRoutes(doc)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is registered but not in internal/apidoc/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("%s is in internal/apidoc/openapi.yaml but no part registers it", r)
		}
	}
	if len(registered) < 20 {
		t.Fatalf("found only %d routes (%v): the scan misses some", len(registered), registered)
	}
}

// partPackage is the folder under internal/ of the part named name: its
// own name, but for the events part, whose package is shows
// (internal/events holds the contracts).
func partPackage(name string) string {
	if name == shows.Name {
		return "shows"
	}
	return name
}

// exchange is one request and its answer, bodies kept.
type exchange struct {
	req      *http.Request
	reqBody  []byte
	resp     *http.Response
	respBody []byte
}

// recorder is a RoundTripper that keeps every exchange. It sits below
// http.Client, so it sees the cookies the jar adds.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	got  []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.got = append(r.got, exchange{req: req.Clone(context.Background()), reqBody: reqBody, resp: resp, respBody: body})
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// recorded is newClient with its exchanges kept by rec.
func recorded(t *testing.T, base string, rec *recorder) *client {
	c := newClient(t, base)
	c.http.Transport = rec
	return c
}

// raw sends req through c (cookies and recording included) and returns the
// status.
func (c *client) raw(req *http.Request) int {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOpenAPIMatchesRecordedAnswers drives `up` through the whole flow —
// sign up, sell, list and page, edit, withdraw, reserve, pay (declined,
// then paid), cancel, let an order expire, sign out — and through the
// errors a client meets (400, 401, 402, 403, 404, 405, 413, 429), records
// every exchange, and validates each against the document: the route and
// the status are documented, the answer's body and headers match their
// schemas, and a request that succeeded matches its request schema. Every
// documented operation must have been exercised.
func TestOpenAPIMatchesRecordedAnswers(t *testing.T) {
	t.Parallel()
	const key = "openapi-test-key-openapi-test-key"
	base, _ := startUp(t, t.TempDir(), map[string]string{
		"MAX_PENDING_ORDERS":    "1",
		"MAX_LISTINGS":          "3",
		"AUTH_RATE_PER_MINUTE":  "5",
		"JWT_KEY":               key,
		"STRIPE_WEBHOOK_SECRET": testWebhookSecret,
	})
	rec := &recorder{next: http.DefaultTransport}
	anon := recorded(t, base, rec)

	want := func(what string, got, status int) {
		t.Helper()
		if got != status {
			t.Fatalf("%s = %d, want %d", what, got, status)
		}
	}

	// Operations, and what anyone may ask.
	for _, path := range []string{"/healthz", "/readyz", "/healthz/bus", "/metrics", "/api/openapi.json", "/api/users/currentuser"} {
		want("GET "+path, anon.do("GET", path, nil, nil), http.StatusOK)
	}
	var served any
	anon.do("GET", "/api/openapi.json", nil, &served)
	var written any
	if js, err := apidoc.JSON(); err != nil || json.Unmarshal(js, &written) != nil || !reflect.DeepEqual(served, written) {
		t.Fatalf("GET /api/openapi.json is not openapi.yaml as JSON (%v)", err)
	}
	want("orders signed out", anon.do("GET", "/api/orders", nil, nil), http.StatusUnauthorized)
	want("my tickets signed out", anon.do("GET", "/api/tickets/mine", nil, nil), http.StatusUnauthorized)
	want("sign out everywhere signed out", anon.do("POST", "/api/users/signout-all", nil, nil), http.StatusUnauthorized)
	want("a ticket signed out", anon.do("POST", "/api/tickets", map[string]any{"title": "x", "price": 1}, nil), http.StatusUnauthorized)

	// Sign up.
	seller := recorded(t, base, rec)
	want("sign up", seller.do("POST", "/api/users/signup", map[string]string{"email": "seller@example.com", "password": "correct horse"}, nil), http.StatusCreated)
	want("sign up again", anon.do("POST", "/api/users/signup", map[string]string{"email": "seller@example.com", "password": "correct horse"}, nil), http.StatusBadRequest)
	want("sign up badly", anon.do("POST", "/api/users/signup", map[string]string{"email": "nobody", "password": "short"}, nil), http.StatusBadRequest)
	want("currentuser", seller.do("GET", "/api/users/currentuser", nil, nil), http.StatusOK)

	// Sell, list, page, edit, withdraw.
	var t1, t2, t3 ticketJSON
	want("sell", seller.do("POST", "/api/tickets", map[string]any{"title": "Concert", "price": 20.5}, &t1), http.StatusCreated)
	want("sell, price as a string", seller.do("POST", "/api/tickets", map[string]any{"title": "Opera", "price": "35.00"}, &t2), http.StatusCreated)
	want("sell badly", seller.do("POST", "/api/tickets", map[string]any{"title": " ", "price": 0}, nil), http.StatusBadRequest)
	want("sell a third", seller.do("POST", "/api/tickets", map[string]any{"title": "Ballet", "price": 12}, &t3), http.StatusCreated)
	want("sell past MAX_LISTINGS", seller.do("POST", "/api/tickets", map[string]any{"title": "Circus", "price": 9}, nil), http.StatusTooManyRequests)
	want("list", anon.do("GET", "/api/tickets", nil, nil), http.StatusOK)
	for _, q := range []string{"?limit=1", "?limit=1&sort=price_desc", "?q=conc&sort=price_asc"} {
		want("list "+q, anon.do("GET", "/api/tickets"+q, nil, nil), http.StatusOK)
	}
	want("list by a bad sort", anon.do("GET", "/api/tickets?sort=cheapest", nil, nil), http.StatusBadRequest)
	want("get", anon.do("GET", "/api/tickets/"+t1.ID, nil, nil), http.StatusOK)
	want("get unknown", anon.do("GET", "/api/tickets/no-such-ticket", nil, nil), http.StatusNotFound)
	// Only a ticket no one reserves is edited: an order placed on the
	// version before an edit would be refused.
	want("edit", seller.do("PUT", "/api/tickets/"+t3.ID, map[string]any{"title": "Ballet night", "price": 14}, nil), http.StatusOK)
	want("edit badly", seller.do("PUT", "/api/tickets/"+t3.ID, map[string]any{"title": "Ballet night"}, nil), http.StatusBadRequest)
	want("withdraw", seller.do("DELETE", "/api/tickets/"+t3.ID, nil, nil), http.StatusNoContent)
	want("edit a withdrawn ticket", seller.do("PUT", "/api/tickets/"+t3.ID, map[string]any{"title": "Ballet", "price": 12}, nil), http.StatusBadRequest)
	want("my tickets", seller.do("GET", "/api/tickets/mine", nil, nil), http.StatusOK)

	// Reserve (orders learns a new ticket from its event: 404 until then).
	buyer := recorded(t, base, rec)
	want("sign up the buyer", buyer.do("POST", "/api/users/signup", map[string]string{"email": "buyer@example.com", "password": "correct horse"}, nil), http.StatusCreated)
	var o1 orderJSON
	natsbustest.Eventually(t, 5*time.Second, "orders knows the first ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": t1.ID}, &o1) == http.StatusCreated
	})
	want("reserve a reserved ticket", seller.do("POST", "/api/orders", map[string]string{"ticketId": t1.ID}, nil), http.StatusBadRequest)
	natsbustest.Eventually(t, 5*time.Second, "orders knows the second ticket", func() bool {
		return seller.do("POST", "/api/orders", map[string]string{"ticketId": t2.ID}, nil) == http.StatusBadRequest // own_ticket
	})
	want("reserve past MAX_PENDING_ORDERS", buyer.do("POST", "/api/orders", map[string]string{"ticketId": t2.ID}, nil), http.StatusTooManyRequests)
	want("reserve without a ticket id", buyer.do("POST", "/api/orders", map[string]string{}, nil), http.StatusBadRequest)
	want("reserve an unknown ticket", buyer.do("POST", "/api/orders", map[string]string{"ticketId": "no-such-ticket"}, nil), http.StatusNotFound)
	want("get the order", buyer.do("GET", "/api/orders/"+o1.ID, nil, nil), http.StatusOK)
	want("get someone else's order", seller.do("GET", "/api/orders/"+o1.ID, nil, nil), http.StatusUnauthorized)
	want("get an unknown order", buyer.do("GET", "/api/orders/no-such-order", nil, nil), http.StatusNotFound)
	want("a reserved ticket", anon.do("GET", "/api/tickets/"+t1.ID, nil, nil), http.StatusOK)

	// Pay: declined, paid, paid twice.
	want("pay with a declined card", pay(t, buyer, o1.ID, "tok_chargeDeclined"), http.StatusPaymentRequired)
	want("pay without a token", buyer.do("POST", "/api/payments", map[string]string{"orderId": o1.ID}, nil), http.StatusBadRequest)
	want("pay someone else's order", seller.do("POST", "/api/payments", map[string]string{"orderId": o1.ID, "token": "tok_visa"}, nil), http.StatusUnauthorized)
	want("pay an unknown order", buyer.do("POST", "/api/payments", map[string]string{"orderId": "no-such-order", "token": "tok_visa"}, nil), http.StatusNotFound)
	want("pay", buyer.do("POST", "/api/payments", map[string]string{"orderId": o1.ID, "token": "tok_visa"}, nil), http.StatusCreated)
	want("pay twice", buyer.do("POST", "/api/payments", map[string]string{"orderId": o1.ID, "token": "tok_visa"}, nil), http.StatusBadRequest)
	natsbustest.Eventually(t, 5*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, o1.ID) == "complete" })
	natsbustest.Eventually(t, 5*time.Second, "the paid ticket is sold", func() bool {
		var got struct{ Status string }
		seller.do("GET", "/api/tickets/"+t1.ID, nil, &got)
		return got.Status == "sold"
	})
	want("cancel a paid order", buyer.do("DELETE", "/api/orders/"+o1.ID, nil, nil), http.StatusBadRequest)
	want("edit a sold ticket", seller.do("PUT", "/api/tickets/"+t1.ID, map[string]any{"title": "Concert", "price": 25}, nil), http.StatusBadRequest)

	// Payouts: the seller's sandbox account and the sale's proceeds, held.
	var bal struct{ Held, Available, Paid float64 }
	want("balance", seller.do("GET", "/api/payments/balance", nil, &bal), http.StatusOK)
	if bal.Held != 20.5 || bal.Available != 0 || bal.Paid != 0 {
		t.Errorf("the seller's balance = %+v, want 20.50 held", bal)
	}
	want("no payouts yet", seller.do("GET", "/api/payments/payouts", nil, nil), http.StatusOK)
	want("payouts, a bad page size", seller.do("GET", "/api/payments/payouts?limit=0", nil, nil), http.StatusBadRequest)
	want("no payout account yet", seller.do("GET", "/api/payments/accounts/me", nil, nil), http.StatusNotFound)
	want("payout account signed out", anon.do("GET", "/api/payments/accounts/me", nil, nil), http.StatusUnauthorized)
	want("connect badly", seller.do("POST", "/api/payments/accounts", map[string]string{"returnUrl": "/payouts"}, nil), http.StatusBadRequest)
	want("connect", seller.do("POST", "/api/payments/accounts", map[string]string{"returnUrl": base + "/payouts", "refreshUrl": base + "/payouts/onboard"}, nil), http.StatusCreated)
	want("connect again", seller.do("POST", "/api/payments/accounts", map[string]string{}, nil), http.StatusOK)
	var acct struct{ Provider, Status string }
	want("payout account", seller.do("GET", "/api/payments/accounts/me", nil, &acct), http.StatusOK)
	if acct.Provider != "sandbox" || acct.Status != "enabled" {
		t.Errorf("payout account = %+v, want an enabled sandbox account", acct)
	}

	// Reserve and cancel.
	var o2 orderJSON
	want("reserve the second ticket", buyer.do("POST", "/api/orders", map[string]string{"ticketId": t2.ID}, &o2), http.StatusCreated)
	natsbustest.Eventually(t, 5*time.Second, "tickets marks the second ticket reserved", func() bool {
		var got struct{ Status string }
		anon.do("GET", "/api/tickets/"+t2.ID, nil, &got)
		return got.Status == "reserved"
	})
	want("withdraw a reserved ticket", seller.do("DELETE", "/api/tickets/"+t2.ID, nil, nil), http.StatusBadRequest)
	want("cancel", buyer.do("DELETE", "/api/orders/"+o2.ID, nil, nil), http.StatusNoContent)
	want("cancel an unknown order", buyer.do("DELETE", "/api/orders/no-such-order", nil, nil), http.StatusNotFound)
	want("the cancelled order", buyer.do("GET", "/api/orders/"+o2.ID, nil, nil), http.StatusOK)
	want("reserve what was just released", buyer.do("POST", "/api/orders", map[string]string{"ticketId": t2.ID}, nil), http.StatusTooManyRequests)
	want("the buyer's orders", buyer.do("GET", "/api/orders", nil, nil), http.StatusOK)
	want("the seller's tickets", seller.do("GET", "/api/tickets/mine", nil, nil), http.StatusOK)

	// Events: an organizer creates, lists, edits, staffs and cancels; a
	// buyer may not.
	org := recorded(t, base, rec)
	want("sign up the organizer", org.do("POST", "/api/users/signup", map[string]string{"email": "org@example.com", "password": "correct horse"}, nil), http.StatusCreated)
	asOrganizer(t, org, key)
	starts := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	var ev, queued eventJSON
	want("create an event signed out", anon.do("POST", "/api/events", map[string]any{"name": "x"}, nil), http.StatusUnauthorized)
	want("create an event as a buyer", buyer.do("POST", "/api/events", map[string]any{"name": "x"}, nil), http.StatusForbidden)
	want("create an event badly", org.do("POST", "/api/events", map[string]any{"name": "", "startsAt": "soon"}, nil), http.StatusBadRequest)
	want("create an event", org.do("POST", "/api/events", map[string]any{"name": "Jazz night", "venue": "Paradiso",
		"timeZone": "Europe/Amsterdam", "startsAt": starts, "faceValue": "40", "capacity": 2}, &ev), http.StatusCreated)
	want("create a second event", org.do("POST", "/api/events", map[string]any{"name": "Rock", "venue": "Dome",
		"startsAt": starts, "faceValue": 30.5, "capacity": "3", "resaleCapPercent": 120, "transfers": false, "queue": true}, &queued), http.StatusCreated)
	// The second event's waiting room is open: it goes on sale now.
	want("join the waiting room", buyer.do("POST", "/api/events/"+queued.ID+"/queue", nil, nil), http.StatusOK)
	want("join the waiting room again", buyer.do("POST", "/api/events/"+queued.ID+"/queue", nil, nil), http.StatusOK)
	want("join the waiting room signed out", anon.do("POST", "/api/events/"+queued.ID+"/queue", nil, nil), http.StatusUnauthorized)
	want("join an event without a waiting room", buyer.do("POST", "/api/events/"+ev.ID+"/queue", nil, nil), http.StatusConflict)
	want("join an unknown event's waiting room", buyer.do("POST", "/api/events/no-such-event/queue", nil, nil), http.StatusNotFound)
	want("one's place in the waiting room", buyer.do("GET", "/api/events/"+queued.ID+"/queue", nil, nil), http.StatusOK)
	want("the waiting room signed out", anon.do("GET", "/api/events/"+queued.ID+"/queue", nil, nil), http.StatusOK)
	want("the waiting room of an event without one", anon.do("GET", "/api/events/"+ev.ID+"/queue", nil, nil), http.StatusConflict)
	want("the live waiting room of an event without one", anon.do("GET", "/api/events/"+ev.ID+"/queue/stream", nil, nil), http.StatusConflict)
	// The room was open at once and its on-sale passed: the draw is out.
	want("the waiting room's draw", anon.do("GET", "/api/events/"+queued.ID+"/queue/joins", nil, nil), http.StatusOK)
	want("the draw of an event without a waiting room", anon.do("GET", "/api/events/"+ev.ID+"/queue/joins", nil, nil), http.StatusConflict)
	// Once orders has the event (event.created): 403 queue_required.
	natsbustest.Eventually(t, 10*time.Second, "a reservation without an admission refused", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"eventId": queued.ID}, nil) == http.StatusForbidden
	})
	for _, q := range []string{"", "?limit=1", "?q=jazz+para"} {
		want("list events"+q, anon.do("GET", "/api/events"+q, nil, nil), http.StatusOK)
	}
	want("list events badly", anon.do("GET", "/api/events?after=nope", nil, nil), http.StatusBadRequest)
	want("get an event", anon.do("GET", "/api/events/"+ev.ID, nil, nil), http.StatusOK)
	want("get an unknown event", anon.do("GET", "/api/events/no-such-event", nil, nil), http.StatusNotFound)
	want("my events", org.do("GET", "/api/events/mine", nil, nil), http.StatusOK)
	want("my events signed out", anon.do("GET", "/api/events/mine", nil, nil), http.StatusUnauthorized)
	want("edit an event", org.do("PUT", "/api/events/"+ev.ID, map[string]any{"name": "Jazz late night"}, nil), http.StatusOK)
	want("edit an event's capacity", org.do("PUT", "/api/events/"+ev.ID, map[string]any{"capacity": 3}, nil), http.StatusBadRequest)
	want("edit someone else's event", buyer.do("PUT", "/api/events/"+ev.ID, map[string]any{"name": "x"}, nil), http.StatusForbidden)
	want("edit an unknown event", org.do("PUT", "/api/events/no-such-event", map[string]any{"name": "x"}, nil), http.StatusNotFound)
	want("edit an event signed out", anon.do("PUT", "/api/events/"+ev.ID, map[string]any{"name": "x"}, nil), http.StatusUnauthorized)
	want("add staff", org.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "door@example.com"}, nil), http.StatusOK)
	want("add staff badly", org.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "door"}, nil), http.StatusBadRequest)
	want("add staff to an unknown event", org.do("POST", "/api/events/no-such-event/staff", map[string]string{"email": "door@example.com"}, nil), http.StatusNotFound)
	want("add staff signed out", anon.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "door@example.com"}, nil), http.StatusUnauthorized)
	want("add staff as a buyer", buyer.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "door@example.com"}, nil), http.StatusForbidden)
	want("remove staff", org.do("DELETE", "/api/events/"+ev.ID+"/staff/door@example.com", nil, nil), http.StatusOK)
	want("remove staff as a buyer", buyer.do("DELETE", "/api/events/"+ev.ID+"/staff/door@example.com", nil, nil), http.StatusForbidden)
	want("remove staff signed out", anon.do("DELETE", "/api/events/"+ev.ID+"/staff/door@example.com", nil, nil), http.StatusUnauthorized)
	want("remove staff of an unknown event", org.do("DELETE", "/api/events/no-such-event/staff/door@example.com", nil, nil), http.StatusNotFound)
	// The door: the seller buys an event's ticket and gets its code; the
	// buyer, made door staff, checks it in.
	door := createOnSaleEvent(t, org, "Door night", 1)
	held := buyHeld(t, seller, door)
	var code codeJSON
	want("a ticket's code", seller.do("GET", "/api/tickets/"+held+"/code", nil, &code), http.StatusOK)
	want("a ticket's code to another", buyer.do("GET", "/api/tickets/"+held+"/code", nil, nil), http.StatusNotFound)
	want("a ticket's code signed out", anon.do("GET", "/api/tickets/"+held+"/code", nil, nil), http.StatusUnauthorized)
	// Resale: the holder lists within the cap (the face value, 40) and
	// withdraws.
	want("list a held ticket over the cap", seller.do("POST", "/api/tickets/"+held+"/listing", map[string]any{"price": 41}, nil), http.StatusBadRequest)
	want("list someone else's ticket", buyer.do("POST", "/api/tickets/"+held+"/listing", map[string]any{"price": 40}, nil), http.StatusNotFound)
	want("list a held ticket", seller.do("POST", "/api/tickets/"+held+"/listing", map[string]any{"price": "39.50"}, nil), http.StatusOK)
	want("withdraw someone else's listing", buyer.do("DELETE", "/api/tickets/"+held+"/listing", nil, nil), http.StatusNotFound)
	want("withdraw the listing", seller.do("DELETE", "/api/tickets/"+held+"/listing", nil, nil), http.StatusNoContent)
	// Transfer: offered, listed, refused, history, cancelled; then one
	// accepted, of another event's ticket.
	var tr struct{ ID string }
	want("transfer a held ticket badly", seller.do("POST", "/api/tickets/"+held+"/transfer", map[string]string{"email": "buyer"}, nil), http.StatusBadRequest)
	want("transfer someone else's ticket", buyer.do("POST", "/api/tickets/"+held+"/transfer", map[string]string{"email": "x@example.com"}, nil), http.StatusNotFound)
	want("transfer signed out", anon.do("POST", "/api/tickets/"+held+"/transfer", map[string]string{"email": "x@example.com"}, nil), http.StatusUnauthorized)
	want("transfer a held ticket", seller.do("POST", "/api/tickets/"+held+"/transfer", map[string]string{"email": "buyer@example.com"}, &tr), http.StatusCreated)
	want("transfer it twice", seller.do("POST", "/api/tickets/"+held+"/transfer", map[string]string{"email": "buyer@example.com"}, nil), http.StatusConflict)
	want("list a ticket with a transfer pending", seller.do("POST", "/api/tickets/"+held+"/listing", map[string]any{"price": 30}, nil), http.StatusConflict)
	want("my transfers", buyer.do("GET", "/api/transfers", nil, nil), http.StatusOK)
	want("my transfers signed out", anon.do("GET", "/api/transfers", nil, nil), http.StatusUnauthorized)
	want("a ticket's history", seller.do("GET", "/api/tickets/"+held+"/history", nil, nil), http.StatusOK)
	want("a ticket's history to another", buyer.do("GET", "/api/tickets/"+held+"/history", nil, nil), http.StatusNotFound)
	want("a ticket's history, bad page", seller.do("GET", "/api/tickets/"+held+"/history?after=x", nil, nil), http.StatusBadRequest)
	want("cancel someone else's transfer", buyer.do("DELETE", "/api/transfers/"+tr.ID, nil, nil), http.StatusNotFound)
	want("cancel the transfer", seller.do("DELETE", "/api/transfers/"+tr.ID, nil, nil), http.StatusNoContent)
	want("accept a cancelled transfer", buyer.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, nil), http.StatusConflict)
	want("accept an unknown transfer", buyer.do("POST", "/api/transfers/no-such-transfer/accept", nil, nil), http.StatusNotFound)
	gift := buyHeld(t, seller, createOnSaleEvent(t, org, "Gift night", 1))
	want("transfer another ticket", seller.do("POST", "/api/tickets/"+gift+"/transfer", map[string]string{"email": "buyer@example.com"}, &tr), http.StatusCreated)
	want("accept a transfer", buyer.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, nil), http.StatusOK)
	want("accept it again", buyer.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, nil), http.StatusConflict)
	want("cancel an accepted transfer", seller.do("DELETE", "/api/transfers/"+tr.ID, nil, nil), http.StatusConflict)
	want("check in as no one's staff", buyer.do("POST", "/api/checkins", map[string]string{"code": code.Code, "eventId": door}, nil), http.StatusForbidden)
	want("door staff", org.do("POST", "/api/events/"+door+"/staff", map[string]string{"email": "buyer@example.com"}, nil), http.StatusOK)
	natsbustest.Eventually(t, 10*time.Second, "the door staff checks in", func() bool {
		return buyer.do("POST", "/api/checkins", map[string]string{"code": code.Code, "eventId": door}, nil) == http.StatusOK
	})
	want("check in again by short form", buyer.do("POST", "/api/checkins", map[string]string{"code": code.Short}, nil), http.StatusOK)
	want("check in a forged code", buyer.do("POST", "/api/checkins", map[string]string{"code": forgedCode, "eventId": door}, nil), http.StatusOK)
	want("check in without a code", buyer.do("POST", "/api/checkins", map[string]string{"eventId": door}, nil), http.StatusBadRequest)
	want("check in signed out", anon.do("POST", "/api/checkins", map[string]string{"code": code.Code}, nil), http.StatusUnauthorized)
	want("cancel the door's event", org.do("POST", "/api/events/"+door+"/cancel", nil, nil), http.StatusOK)
	natsbustest.Eventually(t, 10*time.Second, "the code is void", func() bool {
		return seller.do("GET", "/api/tickets/"+held+"/code", nil, nil) == http.StatusConflict
	})
	want("cancel an event as a buyer", buyer.do("POST", "/api/events/"+ev.ID+"/cancel", nil, nil), http.StatusForbidden)
	want("cancel an event signed out", anon.do("POST", "/api/events/"+ev.ID+"/cancel", nil, nil), http.StatusUnauthorized)
	want("cancel an unknown event", org.do("POST", "/api/events/no-such-event/cancel", nil, nil), http.StatusNotFound)
	want("cancel an event", org.do("POST", "/api/events/"+ev.ID+"/cancel", nil, nil), http.StatusOK)
	want("edit a cancelled event", org.do("PUT", "/api/events/"+ev.ID, map[string]any{"name": "x"}, nil), http.StatusBadRequest)
	want("add staff to a cancelled event", org.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "gate@example.com"}, nil), http.StatusBadRequest)
	want("cancel a cancelled event", org.do("POST", "/api/events/"+ev.ID+"/cancel", nil, nil), http.StatusOK)

	// What the edge refuses: a body too large, a write from another site.
	big, _ := json.Marshal(map[string]string{"title": strings.Repeat("x", 70<<10), "price": "1"})
	req, _ := http.NewRequest("POST", base+"/api/tickets", bytes.NewReader(big))
	req.Header.Set("Content-Type", "application/json")
	want("a body too large", seller.raw(req), http.StatusRequestEntityTooLarge)
	req, _ = http.NewRequest("DELETE", base+"/api/orders/"+o1.ID, nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	want("a cross-origin write", buyer.raw(req), http.StatusForbidden)
	req, _ = http.NewRequest("PATCH", base+"/api/tickets/"+t1.ID, strings.NewReader(`{"price":1}`))
	want("a method the route has not", seller.raw(req), http.StatusMethodNotAllowed)

	// Stripe's webhook: signed, then not.
	hook := func(base string, body []byte, secret string) *http.Request {
		req, _ := http.NewRequest("POST", base+"/api/payments/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if secret != "" {
			req.Header.Set("Stripe-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret}).Header)
		}
		return req
	}
	dispute := disputeBody("evt_openapi", "pi_not_ours")
	want("a Stripe event", anon.raw(hook(base, dispute, testWebhookSecret)), http.StatusOK)
	want("a Stripe event unsigned", anon.raw(hook(base, dispute, "")), http.StatusBadRequest)

	// Sign in, sign out, sign out everywhere, and the sign-in limit.
	again := recorded(t, base, rec)
	want("sign in", again.do("POST", "/api/users/signin", map[string]string{"email": "seller@example.com", "password": "correct horse"}, nil), http.StatusOK)
	want("sign out", again.do("POST", "/api/users/signout", nil, nil), http.StatusOK)
	want("sign out signed out", anon.do("POST", "/api/users/signout", nil, nil), http.StatusOK)
	want("sign out everywhere", buyer.do("POST", "/api/users/signout-all", nil, nil), http.StatusOK)
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		got := anon.do("POST", "/api/users/signin", map[string]string{"email": "seller@example.com", "password": "wrong horse"}, nil)
		if got != http.StatusBadRequest && got != http.StatusTooManyRequests {
			t.Fatalf("a wrong password = %d, want 400 or 429", got)
		}
		limited = got == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("20 wrong passwords in a row were never rate limited")
	}

	// An order left unpaid: with a short window, on a second system.
	short, _ := startUp(t, t.TempDir(), map[string]string{"EXPIRATION_WINDOW": "1s"})
	seller, buyer = recorded(t, short, rec), recorded(t, short, rec)
	want("sign up on the second system", seller.do("POST", "/api/users/signup", map[string]string{"email": "seller@example.com", "password": "correct horse"}, nil), http.StatusCreated)
	want("sign up the buyer there", buyer.do("POST", "/api/users/signup", map[string]string{"email": "buyer@example.com", "password": "correct horse"}, nil), http.StatusCreated)
	_, o3 := sellAndReserve(t, seller, buyer, "Expiring")
	natsbustest.Eventually(t, 5*time.Second, "the unpaid order expires", func() bool { return orderStatus(buyer, o3.ID) == "cancelled" })
	if got := pay(t, buyer, o3.ID, "tok_visa"); got != http.StatusBadRequest {
		t.Fatalf("paying an expired order = %d, want 400", got)
	}
	want("a Stripe event without a webhook secret", anon.raw(hook(short, dispute, testWebhookSecret)), http.StatusNotFound)

	checkAgainstDoc(t, loadAPIDoc(t), []string{base, short}, rec.exchanges())
}

// checkAgainstDoc validates every exchange against doc and fails for each
// documented operation no exchange exercised.
func checkAgainstDoc(t *testing.T, doc *openapi3.T, bases []string, got []exchange) {
	t.Helper()
	doc.Servers = nil
	for _, b := range bases {
		doc.Servers = append(doc.Servers, &openapi3.Server{URL: b})
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The session scheme holds when the cookie is there; whether it is
	// valid is the answer's business (a 401).
	auth := func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		_, err := in.RequestValidationInput.Request.Cookie(in.SecurityScheme.Name)
		return err
	}
	seen := map[string]bool{}
	for _, x := range got {
		what := fmt.Sprintf("%s %s → %d %s", x.req.Method, x.req.URL.RequestURI(), x.resp.StatusCode, x.respBody)
		route, params, err := router.FindRoute(x.req)
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			// Not an operation: the edge's JSON 405, an error like any other.
			var body any
			if x.resp.StatusCode != http.StatusMethodNotAllowed || x.resp.Header.Get("Allow") == "" || json.Unmarshal(x.respBody, &body) != nil {
				t.Errorf("%s: want a JSON 405 with Allow", what)
			} else if err := doc.Components.Schemas["Error"].Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("%s: the answer does not match the Error schema: %v", what, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		seen[x.req.Method+" "+route.Path] = true
		x.req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
		in := &openapi3filter.RequestValidationInput{
			Request: x.req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: auth, MultiError: true},
		}
		if x.resp.StatusCode < 300 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: the request that succeeded does not match the document: %v", what, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 x.resp.StatusCode,
			Header:                 x.resp.Header,
			Body:                   io.NopCloser(bytes.NewReader(x.respBody)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: the answer does not match the document: %v", what, err)
		}
		if r := route.Operation.Responses.Status(x.resp.StatusCode); r != nil && len(r.Value.Content) == 0 && len(x.respBody) > 0 {
			t.Errorf("%s: the document gives this answer no body", what)
		}
	}
	for _, r := range documentedRoutes(doc) {
		if !seen[r] {
			t.Errorf("%s is documented but the flow never called it: add it to the flow", r)
		}
	}
}

// TestServeGatewayServesOpenAPI: in a deployment the gateway serves the
// document itself (no other part need be up), and answers 304 to a client
// holding the current copy.
func TestServeGatewayServesOpenAPI(t *testing.T) {
	t.Parallel()
	base := startServe(t, "gateway", map[string]string{
		"TICKETING_ADDR":     "127.0.0.1:0",
		"TICKETING_DATA_DIR": t.TempDir(),
		"JWT_KEY":            strings.Repeat("serve-test-key-", 3),
		"TICKET_SIGNING_KEY": testTicketSigningKey,
	})
	resp, err := http.Get(base + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, err := apidoc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(served, want) || etag == "" {
		t.Fatalf("GET /api/openapi.json = %d %q, ETag %q, body equal to openapi.yaml as JSON: %v",
			resp.StatusCode, resp.Header.Get("Content-Type"), etag, bytes.Equal(served, want))
	}
	req, _ := http.NewRequest("GET", base+"/api/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("GET /api/openapi.json with its ETag = %d, want 304", resp.StatusCode)
	}
}

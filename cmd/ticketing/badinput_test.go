package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// The bad-input sweep: every route of the API and of the web client, fed a
// fixed catalogue of hostile input through the real gateway of `up`, must
// answer a clear 4xx (JSON for the API, HTML for the pages) — never a 5xx,
// a panic, a hang or partly stored data (DESIGN.md section 3). The
// catalogue is deterministic so a failure reproduces; each subtest is named
// after the route and the input. FuzzAPI explores beyond the catalogue.

// badInputKey is the JWT key of the swept system: known to the test, so it
// can mint an expired but correctly signed session.
var badInputKey = strings.Repeat("bad-input-key-", 3)

// badInputTimeout bounds every answer: a hang is a failure, not a wait.
const badInputTimeout = 5 * time.Second

// onEachEngine runs fn against `up` on SQLite and, when
// TICKETING_TEST_POSTGRES_URL is set, on a fresh PostgreSQL database:
// PostgreSQL refuses NUL bytes and invalid UTF-8 that SQLite stores.
//
// The two systems are apart and a sweep mostly waits for answers, so the
// engines run at once, in the test's own place among the parallel tests:
// as parallel subtests they would queue behind every other test and start
// last, the sweep then being the run's tail. Not under -race: there the
// sign-ins of two sweeps at once (argon2, each) wait past badInputTimeout.
func onEachEngine(t *testing.T, fn func(t *testing.T, base string)) {
	var wg sync.WaitGroup
	for _, e := range sqldbtest.Engines(t) {
		run := func(f func()) { f() }
		if !raceDetector {
			run = wg.Go
		}
		run(func() {
			t.Run(e.String(), func(t *testing.T) {
				env := map[string]string{"JWT_KEY": badInputKey, "STRIPE_WEBHOOK_SECRET": testWebhookSecret}
				if e == sqldb.Postgres {
					env["DATABASE_URL"] = freshPostgres(t)
				}
				// Hundreds of the sweep's ids are well formed and unknown:
				// each would wait the full catch-up for a ticket that never
				// comes.
				base, app := startUpConfig(t, t.TempDir(), env, func(c *Config) { c.catchUp = 50 * time.Millisecond })
				// An event whose tickets are not on sale yet: ordering by
				// its id is refused, whatever the sweep sends.
				publishOnBus(t, app, events.EventCreated{EventState: events.EventState{
					ID: sweepEventID, OrganizerID: "sweep-organizer", Name: "Sweep night", Venue: "Hall",
					StartsAt: time.Now().Add(48 * time.Hour), EndsAt: time.Now().Add(50 * time.Hour),
					OnSaleAt: time.Now().Add(24 * time.Hour), FaceValue: 1000, Capacity: 5, Status: events.EventStatusScheduled,
				}})
				fn(t, base)
			})
		})
	}
	wg.Wait()
}

// rawAnswer is one answer of the sweep.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// rawRequest is a request built byte for byte: the path goes on the wire
// as given (no cleaning, no re-escaping), the cookie header as given.
type rawRequest struct {
	method, path string
	body         []byte
	contentType  string // "" sends none
	cookie       string // the whole Cookie header; "" sends none
	form         bool   // a web form: add Sec-Fetch-Site like a browser
}

// noRedirects is a client that shows redirects instead of following them
// and carries no cookie jar: every request states its own cookies.
var noRedirects = &http.Client{
	Timeout:       badInputTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func sendRaw(t *testing.T, base string, rr rawRequest) rawAnswer {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	// Opaque is sent verbatim as the request target, so %00, %ff and
	// "../" reach the server exactly as a hostile client sends them.
	u.Opaque = rr.path
	var rd io.Reader
	if rr.body != nil {
		rd = bytes.NewReader(rr.body)
	}
	req, err := http.NewRequest(rr.method, base, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	if rr.contentType != "" {
		req.Header.Set("Content-Type", rr.contentType)
	}
	if rr.cookie != "" {
		req.Header.Set("Cookie", rr.cookie)
	}
	if rr.form {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %.200s: %v (a hang or a dropped connection)", rr.method, rr.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %.200s: reading the answer: %v", rr.method, rr.path, err)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// unparsableTarget is the name of the catalogue's path with a bad percent
// escape: net/http's server refuses that request line with its own
// plain-text 400 before any handler runs, so no route can answer JSON.
const unparsableTarget = "bad escape"

// unparsable reports whether t sends the unparsable target.
func unparsable(t *testing.T) bool {
	t.Helper()
	return strings.Contains(t.Name(), "/id_"+strings.ReplaceAll(unparsableTarget, " ", "_"))
}

// checkAPIAnswer fails unless a is below 500 and, when an error, a JSON
// body with a message.
func checkAPIAnswer(t *testing.T, a rawAnswer) {
	t.Helper()
	if a.status >= 500 {
		t.Fatalf("status %d, want < 500; body %.300q", a.status, a.body)
	}
	if a.status < 400 {
		return
	}
	if unparsable(t) {
		if a.status != http.StatusBadRequest {
			t.Fatalf("status %d, want net/http's 400", a.status)
		}
		return
	}
	if mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); mt != "application/json" {
		t.Fatalf("status %d with Content-Type %q, want application/json; body %.300q", a.status, a.header.Get("Content-Type"), a.body)
	}
	var eb httpapi.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil || len(eb.Errors) == 0 || eb.Errors[0].Message == "" {
		t.Fatalf("status %d body %.300q is not {\"errors\":[{\"message\":...}]} (%v)", a.status, a.body, err)
	}
	for _, e := range eb.Errors {
		if !slices.Contains(documentedErrorCodes(t), e.Code) {
			t.Fatalf("status %d body %.300q: code %q is not in the API reference's list", a.status, a.body, e.Code)
		}
	}
}

// apiRoute is one route of the API. fields are the JSON fields of its body
// with a valid value each (raw JSON), so one at a time can be made hostile
// while the others stay valid.
type apiRoute struct {
	method, path string // path may hold {id}
	auth         bool   // answers 401 to a signed-out caller before reading the body
	decodes      bool   // reads a JSON body
	// endsSession revokes the caller's session: the sweep sends it a
	// session of its own each time (disposable), or the first request would
	// sign the swept user out of every later one.
	endsSession bool
	fields      [][2]string
	query       []string // the query parameters it reads
}

// badInputFixtures are the resources the sweep points at: the swept
// user's own ticket, and another user's ticket and order.
type badInputFixtures struct {
	myTicket, otherTicket, reservedTicket, otherOrder string
	// myEvent and otherEvent are the swept user's event and another
	// organizer's (the swept user is an organizer).
	myEvent, otherEvent string
	// event is an event whose tickets are not on sale yet.
	event string
}

// sweepEventID is the event onEachEngine puts on the bus.
const sweepEventID = "0b7e4c1a-5d2f-4e8b-9a63-7c1d2e3f4a5b"

// forgedCode is an entry code of two UUIDs signed with a key the system
// does not have.
const forgedCode = "T1.040G347KM9Y1WYTAKMQ5YTKVHJEGW08BFS61MQ9F9T5SMRVW3MQ3YJJV.BSXCKWXWR9TJ9DY1KZSV35FSTBQE0FZZ2MFRT5X5ENZHKXNA2Y60819XGVD958C4WDBAT9JE3HCRVNXDXHHGGMTDR4CMBRFFE1YWE0R"

func apiRoutes(fx badInputFixtures) []apiRoute {
	q := strconv.Quote
	return []apiRoute{
		{method: "POST", path: "/api/users/signup", decodes: true, fields: [][2]string{{"email", q("sweep@example.com")}, {"password", q("correct horse")}}},
		{method: "POST", path: "/api/users/signin", decodes: true, fields: [][2]string{{"email", q("owner@example.com")}, {"password", q("correct horse")}}},
		{method: "POST", path: "/api/users/signout", endsSession: true},
		{method: "POST", path: "/api/users/signout-all", auth: true, endsSession: true},
		{method: "GET", path: "/api/users/currentuser"},
		{method: "GET", path: "/api/tickets", query: []string{"q", "limit", "after", "sort", "eventId"}},
		{method: "POST", path: "/api/tickets", auth: true, decodes: true, fields: [][2]string{{"title", q("Sweep show")}, {"price", "10"}}},
		{method: "GET", path: "/api/tickets/mine", auth: true, query: []string{"limit", "after"}},
		{method: "GET", path: "/api/tickets/{id}"},
		{method: "PUT", path: "/api/tickets/{id}", auth: true, decodes: true, fields: [][2]string{{"title", q("Sweep show")}, {"price", "10"}}},
		// After PUT: the owner's sweep withdraws their own ticket.
		{method: "DELETE", path: "/api/tickets/{id}", auth: true},
		{method: "GET", path: "/api/tickets/{id}/code", auth: true},
		{method: "POST", path: "/api/tickets/{id}/listing", auth: true, decodes: true, fields: [][2]string{{"price", "2500"}}},
		{method: "DELETE", path: "/api/tickets/{id}/listing", auth: true},
		{method: "POST", path: "/api/tickets/{id}/transfer", auth: true, decodes: true, fields: [][2]string{{"email", q("friend@example.com")}}},
		{method: "GET", path: "/api/tickets/{id}/history", auth: true, query: []string{"limit", "after"}},
		{method: "GET", path: "/api/transfers", auth: true},
		{method: "POST", path: "/api/transfers/{id}/accept", auth: true},
		{method: "DELETE", path: "/api/transfers/{id}", auth: true},
		// A forged code at the swept user's own event's door: invalid,
		// never a 500 (and another user's: 403).
		{method: "POST", path: "/api/checkins", auth: true, decodes: true, fields: [][2]string{{"code", q(forgedCode)}, {"eventId", q(fx.myEvent)}}},
		{method: "GET", path: "/api/orders", auth: true},
		// ticketId is never a ticket on sale: a refused request must leave
		// no order behind, and the swept user must end with none.
		{method: "POST", path: "/api/orders", auth: true, decodes: true, fields: [][2]string{{"ticketId", q(fx.reservedTicket)}}},
		// eventId names an event not on sale yet: refused too.
		{method: "POST", path: "/api/orders", auth: true, decodes: true, fields: [][2]string{{"eventId", q(fx.event)}, {"admission", q("not.an.admission")}}},
		{method: "GET", path: "/api/orders/{id}", auth: true},
		{method: "DELETE", path: "/api/orders/{id}", auth: true},
		{method: "POST", path: "/api/payments", auth: true, decodes: true, fields: [][2]string{{"orderId", q(fx.otherOrder)}, {"token", q("tok_visa")}}},
		// The swept user connects a (sandbox) payout account: 201, then
		// 200 with the same one.
		{method: "POST", path: "/api/payments/accounts", auth: true, decodes: true, fields: [][2]string{
			{"returnUrl", q("http://localhost:8080/payouts")}, {"refreshUrl", q("http://localhost:8080/payouts/onboard")}}},
		{method: "GET", path: "/api/payments/accounts/me", auth: true},
		{method: "GET", path: "/api/payments/balance", auth: true},
		{method: "GET", path: "/api/payments/payouts", auth: true, query: []string{"limit", "after"}},
		// Stripe's webhook: no session; nothing the sweep sends is signed
		// (the system has a webhook secret), so every answer is a 400 or 413.
		{method: "POST", path: "/api/payments/webhook", decodes: true, fields: [][2]string{{"id", q("evt_sweep")}, {"object", q("event")},
			{"type", q("charge.dispute.created")}, {"data", `{"object":{"id":"dp_sweep","charge":"ch_sweep"}}`}}},
		{method: "GET", path: "/api/events", query: []string{"q", "limit", "after"}},
		{method: "POST", path: "/api/events", auth: true, decodes: true, fields: eventFields(true)},
		{method: "GET", path: "/api/events/mine", auth: true},
		{method: "GET", path: "/api/events/{id}"},
		{method: "PUT", path: "/api/events/{id}", auth: true, decodes: true, fields: eventFields(false)},
		{method: "POST", path: "/api/events/{id}/staff", auth: true, decodes: true, fields: [][2]string{{"email", q("door@example.com")}}},
		{method: "DELETE", path: "/api/events/{id}/staff/door@example.com", auth: true},
		// The waiting room: the swept events have none (409 no_queue).
		{method: "POST", path: "/api/events/{id}/queue", auth: true},
		{method: "GET", path: "/api/events/{id}/queue"},
		{method: "GET", path: "/api/events/{id}/queue/stream"},
		{method: "GET", path: "/api/events/{id}/queue/joins"},
		// Last of the events: the owner's sweep cancels their own event.
		{method: "POST", path: "/api/events/{id}/cancel", auth: true},
	}
}

// eventFields are the fields of a valid event body, every one for a new
// event, all but the capacity (which cannot change) for an edit.
func eventFields(create bool) [][2]string {
	q := strconv.Quote
	starts := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	out := [][2]string{
		{"name", q("Sweep night")}, {"venue", q("Sweep hall")}, {"timeZone", q("Europe/Amsterdam")},
		{"startsAt", q(starts.Format(time.RFC3339))}, {"endsAt", q(starts.Add(3 * time.Hour).Format(time.RFC3339))},
		{"onSaleAt", q(starts.Add(-24 * time.Hour).Format(time.RFC3339))}, {"faceValue", "10"},
		{"resaleCapPercent", "110"}, {"transfers", "true"}, {"queue", "false"},
	}
	if create {
		out = append(out, [2]string{"capacity", "1"})
	}
	return out
}

// namedBytes is one entry of the catalogue.
type namedBytes struct {
	name string
	b    []byte
}

func nb(name, s string) namedBytes { return namedBytes{name, []byte(s)} }

// hostileBodies are whole request bodies.
func hostileBodies() []namedBytes {
	return []namedBytes{
		nb("empty", ""),
		nb("whitespace", " \n\t "),
		nb("null", "null"),
		nb("array", "[]"),
		nb("string", `"str"`),
		nb("number", "123"),
		nb("true", "true"),
		nb("empty object", "{}"),
		nb("truncated", `{"a":`),
		nb("deep array 10000", strings.Repeat("[", 10000)+strings.Repeat("]", 10000)),
		nb("deep object 10000", strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000)),
		nb("deep unclosed 20000", strings.Repeat("[", 20000)),
		nb("just under the cap", `{"title":"`+strings.Repeat("a", httpapi.MaxBody-20)+`"}`),
		nb("just over the cap", `{"title":"`+strings.Repeat("a", httpapi.MaxBody)+`"}`),
		nb("over the cap in whitespace", "{}"+strings.Repeat(" ", httpapi.MaxBody)),
		nb("trailing garbage", `{} x`),
		nb("two objects", `{}{}`),
		nb("duplicate keys", `{"title":"ok","title":"\u0000","email":"a@b.co","email":"\ud800"}`),
		nb("unknown field", `{"isAdmin":true}`),
		nb("__proto__", `{"__proto__":{"admin":true}}`),
		nb("invalid UTF-8 in string", "{\"title\":\"\xff\xfe\",\"email\":\"\xc0\xaf@x.co\"}"),
		nb("invalid UTF-8 outside string", "{\xff}"),
		nb("raw NUL byte", "{\"title\":\"a\x00b\"}"),
		nb("UTF-8 BOM", "\xef\xbb\xbf{}"),
		nb("UTF-16 body", "\xff\xfe{\x00}\x00"),
		nb("form encoded", "title=x&price=1"),
		nb("NaN literal", `{"price":NaN}`),
		nb("huge number", `{"price":`+strings.Repeat("9", 5000)+`}`),
		nb("single quotes", `{'title':'x'}`),
		nb("comment", `{/* */}`),
	}
}

// hostileValues are JSON values put in one field of an otherwise valid body.
func hostileValues() []namedBytes {
	return []namedBytes{
		nb("null", "null"),
		nb("empty string", `""`),
		nb("blank", `"   "`),
		nb("true", "true"),
		nb("array", `["x"]`),
		nb("object", `{"$gt":""}`),
		nb("zero", "0"),
		nb("minus zero", "-0"),
		nb("negative", "-1"),
		nb("1e308", "1e308"),
		nb("-1e308", "-1e308"),
		nb("1e309", "1e309"),
		nb("1e-308", "1e-308"),
		nb("three decimals", "20.505"),
		nb("three decimals string", `"20.505"`),
		nb("number string", `"20.50"`),
		nb("number string exp", `"1e3"`),
		nb("hex string", `"0x10"`),
		nb("NaN string", `"NaN"`),
		nb("Infinity string", `"Infinity"`),
		nb("-Infinity string", `"-Infinity"`),
		nb("over a million", "1000000.01"),
		nb("2^53+1", "9007199254740993"),
		nb("big integer", "99999999999999999999999999"),
		nb("NUL", `"\u0000"`),
		nb("embedded NUL", `"a\u0000b@example.com"`),
		nb("lone high surrogate", `"\ud800"`),
		nb("lone low surrogate", `"x\udfffx"`),
		nb("RTL override", `"\u202Egnp.exe"`),
		nb("zero-width joiner", `"a\u200Db\u200Bc"`),
		nb("4-byte emoji", `"🎟️👨‍👩‍👧 show"`),
		nb("emoji email", `"🎟@example.com"`),
		nb("control chars", `"a\tb\nc\u001b[31m"`),
		nb("raw invalid UTF-8", "\"\xff\xfe\xfd\""),
		nb("overlong slash", "\"\xc0\xaf\""),
		nb("CESU surrogate", "\"\xed\xa0\x80\""),
		nb("SQL", `"' OR 1=1; DROP TABLE tickets; --"`),
		nb("HTML", `"<script>alert(1)</script>"`),
		nb("200 chars", strconv.Quote(strings.Repeat("x", 200))),
		nb("201 chars", strconv.Quote(strings.Repeat("x", 201))),
		nb("10000 chars", strconv.Quote(strings.Repeat("x", 10000))),
		nb("200 emoji", strconv.Quote(strings.Repeat("😀", 200))),
		nb("percent escapes", `"%00%ff"`),
		nb("path traversal", `"../../etc/passwd"`),
	}
}

// hostileIDs are path ids, already escaped as they go on the wire.
func hostileIDs(fx badInputFixtures) []namedBytes {
	return []namedBytes{
		nb("own ticket", fx.myTicket),
		nb("other's ticket", fx.otherTicket),
		nb("other's order", fx.otherOrder),
		nb("own event", fx.myEvent),
		nb("other's event", fx.otherEvent),
		nb("unknown", "0123456789abcdef0123456789"),
		nb("NUL", "%00"),
		nb("NUL inside", "abc%00def"),
		nb("0xff", "%ff"),
		nb("overlong slash", "%c0%af"),
		nb("CESU surrogate", "%ed%a0%80"),
		nb("RTL override", "%e2%80%ae"),
		nb("emoji", "%f0%9f%8e%9f"),
		nb("10000 chars", strings.Repeat("a", 10000)),
		nb("dot dot", ".."),
		nb("dot dot slash", "../x"),
		nb("escaped dot dot", "%2e%2e"),
		nb("escaped slash", "..%2f..%2fusers"),
		nb("space", "%20"),
		nb("SQL", "'%20OR%201=1--"),
		nb("percent", "%25"),
		nb("number", "1e308"),
		nb("negative", "-1"),
		nb(unparsableTarget, "%zz"),
	}
}

// hostileCookies are Cookie headers.
func hostileCookies(t *testing.T, valid string) []namedBytes {
	t.Helper()
	key := []byte(badInputKey)
	expired, err := session.Issue(key, session.User{ID: "u1", Email: "a@b.co"}, time.Now().Add(-48*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := session.Issue([]byte(strings.Repeat("wrong-key-", 4)), session.User{ID: "u1", Email: "a@b.co"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64([]byte(fmt.Sprintf(`{"sub":"u1","email":"a@b.co","exp":%d}`, time.Now().Add(time.Hour).Unix()))) + "."
	noSubject, err := session.Issue(key, session.User{Email: "a@b.co"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	return []namedBytes{
		nb("expired", "session="+expired),
		nb("forged", "session="+forged),
		nb("alg none", "session="+none),
		nb("no subject", "session="+noSubject),
		nb("garbage", "session=garbage"),
		nb("empty", "session="),
		nb("three dots", "session=..."),
		nb("bad base64", "session=%%%.%%%.%%%"),
		nb("truncated signature", "session="+parts[0]+"."+parts[1]+"."+parts[2][:10]),
		nb("10 KB", "session="+strings.Repeat("A", 10<<10)),
		nb("10 KB valid-looking", "session="+parts[0]+"."+strings.Repeat("A", 10<<10)+"."+parts[2]),
		nb("two sessions", "session=garbage; session="+valid),
		nb("quoted expired", `session="`+expired+`"`),
		nb("unterminated quote", `session="`+valid),
		nb("no equals", "session"),
		nb("separators", "session=a,b;;;=;session"),
		nb("spaces and tab", "session = \t"+valid+" x"),
	}
}

// badInputWorld signs up the users and lists the resources the sweep
// points at.
func badInputWorld(t *testing.T, base string) (owner, other *client, fx badInputFixtures) {
	t.Helper()
	owner = signUp(t, base, "owner@example.com")
	other = signUp(t, base, "other@example.com")
	var mine, theirs, reserved ticketJSON
	if got := owner.do("POST", "/api/tickets", map[string]any{"title": "Owner show", "price": 12}, &mine); got != http.StatusCreated {
		t.Fatalf("create own ticket = %d", got)
	}
	if got := other.do("POST", "/api/tickets", map[string]any{"title": "Other show", "price": 30}, &theirs); got != http.StatusCreated {
		t.Fatalf("create other's ticket = %d", got)
	}
	// The owner sells it, so that the other user may order it.
	if got := owner.do("POST", "/api/tickets", map[string]any{"title": "Reserved show", "price": 40}, &reserved); got != http.StatusCreated {
		t.Fatalf("create reserved ticket = %d", got)
	}
	var o orderJSON
	natsbustest.Eventually(t, 5*time.Second, "orders knows the reserved ticket", func() bool {
		return other.do("POST", "/api/orders", map[string]string{"ticketId": reserved.ID}, &o) == http.StatusCreated
	})
	// Payments must know the order too, or a payment for it is a 404
	// rather than the 401 of someone else's order.
	natsbustest.Eventually(t, 5*time.Second, "payments knows the order", func() bool {
		return owner.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil) == http.StatusUnauthorized
	})
	// And tickets must have taken the reserved ticket off sale, or the
	// sweep's snapshot of the list still counts it and the count drops
	// under the sweep's feet.
	natsbustest.Eventually(t, 5*time.Second, "tickets holds the reserved ticket for the order", func() bool {
		var got ticketJSON
		return other.do("GET", "/api/tickets/"+reserved.ID, nil, &got) == http.StatusOK && got.OrderID == o.ID
	})
	// Both are organizers, with an event each.
	asOrganizer(t, owner, badInputKey)
	asOrganizer(t, other, badInputKey)
	var myEvent, otherEvent eventJSON
	for _, e := range []struct {
		c   *client
		out *eventJSON
	}{{owner, &myEvent}, {other, &otherEvent}} {
		if got := e.c.do("POST", "/api/events", bodyOf(eventFields(true)), e.out); got != http.StatusCreated {
			t.Fatalf("create an event = %d", got)
		}
	}
	natsbustest.Eventually(t, 10*time.Second, "orders knows the sweep's event", func() bool {
		return other.do("POST", "/api/orders", map[string]string{"eventId": sweepEventID}, nil) == http.StatusConflict
	})
	return owner, other, badInputFixtures{myTicket: mine.ID, otherTicket: theirs.ID, reservedTicket: reserved.ID, otherOrder: o.ID,
		myEvent: myEvent.ID, otherEvent: otherEvent.ID, event: sweepEventID}
}

// disposable returns a Cookie header with a session of a user of its own,
// for requests that revoke the caller's session (sign out everywhere ends
// every session of the user): the swept users must stay signed in. The
// swept system signs with badInputKey, so the test can mint one; auth
// revokes a session without looking the user up.
func disposable(tb testing.TB) string {
	tb.Helper()
	id := "disposable-" + rand.Text()
	tok, err := session.Issue([]byte(badInputKey), session.User{ID: id, Email: id + "@example.com"}, time.Now(), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return session.CookieName + "=" + tok
}

// sessionOf is the Cookie header that carries c's session.
func sessionOf(t *testing.T, c *client) string {
	t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == session.CookieName {
			return session.CookieName + "=" + ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// bodyOf is the JSON object of fields (raw JSON values).
func bodyOf(fields [][2]string) json.RawMessage {
	return bodyWith(apiRoute{fields: fields}, "", nil)
}

// bodyWith is route's valid body with field set to the raw JSON value.
func bodyWith(r apiRoute, field string, value []byte) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(f[0]) + ":")
		if f[0] == field {
			b.Write(value)
		} else {
			b.WriteString(f[1])
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

func validBody(r apiRoute) []byte {
	if !r.decodes {
		return nil
	}
	return bodyWith(r, "", nil)
}

// storedTitleOK reports whether a title could have passed validation: a
// refused title must never have been stored.
func storedTitleOK(title string) bool {
	return utf8.ValidString(title) && strings.TrimSpace(title) != "" &&
		utf8.RuneCountInString(title) <= 200 && !strings.ContainsFunc(title, unicode.IsControl)
}

// TestBadInputAPI sweeps every API route with the catalogue, signed out
// and signed in, then checks that the system is healthy and holds nothing
// it refused.
func TestBadInputAPI(t *testing.T) {
	t.Parallel()
	onEachEngine(t, func(t *testing.T, base string) {
		owner, other, fx := badInputWorld(t, base)
		ownerCookie := sessionOf(t, owner)
		var otherOrdersBefore []orderJSON
		other.do("GET", "/api/orders", nil, &otherOrdersBefore)
		var otherTicketBefore ticketJSON
		other.do("GET", "/api/tickets/"+fx.otherTicket, nil, &otherTicketBefore)
		var listBefore []ticketJSON
		owner.do("GET", "/api/tickets", nil, &listBefore)
		var otherEventBefore eventJSON
		other.do("GET", "/api/events/"+fx.otherEvent, nil, &otherEventBefore)
		var eventsBefore []eventJSON
		owner.do("GET", "/api/events", nil, &eventsBefore)

		for _, who := range []struct{ name, cookie string }{{"signed out", ""}, {"signed in", ownerCookie}} {
			t.Run(who.name, func(t *testing.T) {
				sweepAPI(t, base, fx, who.cookie)
				if who.cookie == "" {
					// Nothing a signed-out caller sends may store a ticket.
					var list []ticketJSON
					owner.do("GET", "/api/tickets", nil, &list)
					if len(list) != len(listBefore) {
						t.Errorf("tickets on sale went from %d to %d after the signed-out sweep", len(listBefore), len(list))
					}
					var evs []eventJSON
					owner.do("GET", "/api/events", nil, &evs)
					if len(evs) != len(eventsBefore) {
						t.Errorf("events went from %d to %d after the signed-out sweep", len(eventsBefore), len(evs))
					}
				}
			})
		}
		t.Run("cookies", func(t *testing.T) { sweepCookies(t, base, ownerCookie) })
		t.Run("methods and routes", func(t *testing.T) { sweepMethods(t, base, fx, ownerCookie) })

		// Still healthy, and nothing refused was stored.
		if a := sendRaw(t, base, rawRequest{method: "GET", path: "/readyz"}); a.status != http.StatusOK {
			t.Fatalf("/readyz after the sweep = %d %s", a.status, a.body)
		}
		var all, mine []ticketJSON
		owner.do("GET", "/api/tickets", nil, &all)
		owner.do("GET", "/api/tickets/mine", nil, &mine)
		for _, tk := range append(all, mine...) {
			if !storedTitleOK(tk.Title) || tk.Price <= 0 || tk.Price > 1_000_000 {
				t.Errorf("stored a ticket that breaks the rules: %+v", tk)
			}
		}
		var ownerOrders, otherOrders []orderJSON
		owner.do("GET", "/api/orders", nil, &ownerOrders)
		if len(ownerOrders) != 0 {
			t.Errorf("the sweep never reserved a ticket on sale, yet the owner has orders: %+v", ownerOrders)
		}
		other.do("GET", "/api/orders", nil, &otherOrders)
		if len(otherOrders) != len(otherOrdersBefore) || otherOrders[0].Status != "created" {
			t.Errorf("the other user's orders changed: before %+v, after %+v", otherOrdersBefore, otherOrders)
		}
		var myEvents []eventJSON
		owner.do("GET", "/api/events/mine", nil, &myEvents)
		for _, e := range myEvents {
			if !storedTitleOK(e.Name) || !storedTitleOK(e.Venue) {
				t.Errorf("stored an event that breaks the rules: %+v", e)
			}
		}
		var otherEventAfter eventJSON
		other.do("GET", "/api/events/"+fx.otherEvent, nil, &otherEventAfter)
		if otherEventAfter.Version != otherEventBefore.Version || otherEventAfter.Status != "scheduled" {
			t.Errorf("the other organizer's event changed: before %+v, after %+v", otherEventBefore, otherEventAfter)
		}
		var otherTicketAfter ticketJSON
		other.do("GET", "/api/tickets/"+fx.otherTicket, nil, &otherTicketAfter)
		if otherTicketAfter != otherTicketBefore {
			t.Errorf("the other user's ticket changed: before %+v, after %+v", otherTicketBefore, otherTicketAfter)
		}
	})
}

func sweepAPI(t *testing.T, base string, fx badInputFixtures, owner string) {
	signedIn := owner != ""
	for _, r := range apiRoutes(fx) {
		// A route that revokes the session gets a new one each request.
		cookie := func() string {
			if r.endsSession && signedIn {
				return disposable(t)
			}
			return owner
		}
		path := strings.ReplaceAll(r.path, "{id}", "0123456789abcdef0123456789")
		// Whole bodies, under several content types.
		for _, body := range hostileBodies() {
			for _, ct := range []string{"application/json", "text/plain; charset=utf-16", ""} {
				if ct != "application/json" && !strings.HasPrefix(body.name, "empty object") && body.name != "form encoded" {
					continue // the content type is ignored: a few bodies show it
				}
				t.Run(fmt.Sprintf("%s %s/body %s/type %q", r.method, r.path, body.name, ct), func(t *testing.T) {
					a := sendRaw(t, base, rawRequest{method: r.method, path: path, body: body.b, contentType: ct, cookie: cookie()})
					checkAPIAnswer(t, a)
					if strings.HasPrefix(body.name, "just over") || strings.HasPrefix(body.name, "over the cap") {
						if r.decodes && (signedIn || !r.auth) && a.status != http.StatusRequestEntityTooLarge {
							t.Errorf("status %d, want 413", a.status)
						}
					}
				})
			}
		}
		// One field at a time.
		for _, f := range r.fields {
			for _, v := range hostileValues() {
				t.Run(fmt.Sprintf("%s %s/field %s/%s", r.method, r.path, f[0], v.name), func(t *testing.T) {
					checkAPIAnswer(t, sendRaw(t, base, rawRequest{method: r.method, path: path,
						body: bodyWith(r, f[0], v.b), contentType: "application/json", cookie: cookie()}))
				})
			}
		}
		// One query parameter at a time, then all of them at once.
		for _, v := range hostileFormValues() {
			all := make([]string, len(r.query))
			for i, name := range r.query {
				all[i] = name + "=" + string(v.b)
				t.Run(fmt.Sprintf("%s %s/query %s/%s", r.method, r.path, name, v.name), func(t *testing.T) {
					checkAPIAnswer(t, sendRaw(t, base, rawRequest{method: r.method, path: path + "?" + all[i], cookie: cookie()}))
				})
			}
			if len(all) > 1 {
				t.Run(fmt.Sprintf("%s %s/query all/%s", r.method, r.path, v.name), func(t *testing.T) {
					checkAPIAnswer(t, sendRaw(t, base, rawRequest{method: r.method, path: path + "?" + strings.Join(all, "&"), cookie: cookie()}))
				})
			}
		}
		// Hostile ids, with a valid body.
		if strings.Contains(r.path, "{id}") {
			for _, id := range hostileIDs(fx) {
				t.Run(fmt.Sprintf("%s %s/id %s", r.method, r.path, id.name), func(t *testing.T) {
					a := sendRaw(t, base, rawRequest{method: r.method, path: strings.ReplaceAll(r.path, "{id}", string(id.b)),
						body: validBody(r), contentType: "application/json", cookie: cookie()})
					checkAPIAnswer(t, a)
					if signedIn && r.path == "/api/tickets/{id}" && r.method != "GET" && id.name == "other's ticket" && a.status != http.StatusUnauthorized {
						t.Errorf("%s on someone else's ticket = %d, want 401", r.method, a.status)
					}
					if signedIn && r.path == "/api/orders/{id}" && id.name == "other's order" && a.status != http.StatusUnauthorized {
						t.Errorf("%s someone else's order = %d, want 401", r.method, a.status)
					}
					// Anyone may join another organizer's event's queue.
					if signedIn && strings.HasPrefix(r.path, "/api/events/{id}") && r.path != "/api/events/{id}/queue" && r.method != "GET" && id.name == "other's event" && a.status != http.StatusForbidden {
						t.Errorf("%s on someone else's event = %d, want 403", r.method, a.status)
					}
				})
			}
		}
	}
}

// sweepCookies sends every hostile cookie to the routes that read the
// session: none may sign anyone in, none may fail the request.
func sweepCookies(t *testing.T, base, valid string) {
	routes := []struct {
		method, path, body string
	}{
		{"GET", "/api/users/currentuser", ""},
		{"GET", "/api/orders", ""},
		{"GET", "/api/tickets/mine", ""},
		{"POST", "/api/tickets", `{"title":"Cookie show","price":5}`},
		{"POST", "/api/users/signout", ""},
	}
	for i, ck := range hostileCookies(t, strings.TrimPrefix(valid, "session=")) {
		for _, r := range routes {
			t.Run(fmt.Sprintf("%s %s/cookie %s", r.method, r.path, ck.name), func(t *testing.T) {
				if r.path == "/api/users/signout" {
					// The same hostile cookie around a session of its own:
					// one that is read would be revoked.
					ck = hostileCookies(t, strings.TrimPrefix(disposable(t), "session="))[i]
				}
				var body []byte
				if r.body != "" {
					body = []byte(r.body)
				}
				a := sendRaw(t, base, rawRequest{method: r.method, path: r.path, body: body, contentType: "application/json", cookie: string(ck.b)})
				checkAPIAnswer(t, a)
				// "two sessions" carries the valid one second: whether it is
				// read is the cookie parser's business; any other must not
				// sign in.
				if ck.name == "two sessions" {
					return
				}
				switch r.path {
				case "/api/users/currentuser":
					if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"currentUser":null`)) {
						t.Errorf("= %d %s, want 200 and no user", a.status, a.body)
					}
				case "/api/users/signout":
				default:
					if a.status != http.StatusUnauthorized {
						t.Errorf("= %d, want 401", a.status)
					}
				}
			})
		}
	}
}

// sweepMethods checks the JSON 405 (with Allow) of a known path with the
// wrong method and the JSON 404 of unknown API routes.
func sweepMethods(t *testing.T, base string, fx badInputFixtures, cookie string) {
	notAllowed := []struct{ method, path string }{
		{"GET", "/api/users/signup"}, {"DELETE", "/api/users/signin"}, {"GET", "/api/users/signout"},
		{"POST", "/api/users/currentuser"}, {"DELETE", "/api/tickets"}, {"PATCH", "/api/tickets"},
		{"POST", "/api/tickets/mine"}, {"POST", "/api/tickets/x"},
		{"PUT", "/api/orders"}, {"PUT", "/api/orders/" + fx.otherOrder}, {"POST", "/api/orders/x"},
		{"GET", "/api/payments"}, {"DELETE", "/api/payments"}, {"GET", "/api/payments/webhook"}, {"OPTIONS", "/api/tickets"}, {"BREW", "/api/tickets"},
		{"DELETE", "/api/events"}, {"POST", "/api/events/mine"}, {"PATCH", "/api/events/x"}, {"GET", "/api/events/x/cancel"},
		{"GET", "/api/events/x/staff"}, {"GET", "/api/checkins"}, {"POST", "/api/tickets/x/code"},
	}
	for _, r := range notAllowed {
		t.Run(fmt.Sprintf("405 %s %s", r.method, r.path), func(t *testing.T) {
			a := sendRaw(t, base, rawRequest{method: r.method, path: r.path, cookie: cookie})
			checkAPIAnswer(t, a)
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") == "" {
				t.Errorf("= %d Allow %q, want 405 with Allow", a.status, a.header.Get("Allow"))
			}
		})
	}
	unknown := []string{
		"/api/nowhere", "/api/tickets/x/y", "/api/orders/x/pay", "/api/users/admin", "/api/payments/x",
		"/api/users", "/api/%00", "/api/tickets/x/%ff", "/api/" + strings.Repeat("a", 10000),
		"/api/events/x/y", "/api/events/x/staff/a/b",
	}
	for _, p := range unknown {
		for _, m := range []string{"GET", "POST"} {
			t.Run(fmt.Sprintf("404 %s %.60s", m, p), func(t *testing.T) {
				a := sendRaw(t, base, rawRequest{method: m, path: p, cookie: cookie, body: []byte("{}"), contentType: "application/json"})
				checkAPIAnswer(t, a)
				if a.status != http.StatusNotFound {
					t.Errorf("= %d, want 404", a.status)
				}
			})
		}
	}
}

// ----- the web pages -----

// checkWebAnswer fails unless a is below 500 and, unless a redirect, an
// HTML page.
func checkWebAnswer(t *testing.T, a rawAnswer) {
	t.Helper()
	if a.status >= 500 {
		t.Fatalf("status %d, want < 500; body %.300q", a.status, a.body)
	}
	if a.status >= 300 && a.status < 400 || a.status == http.StatusBadRequest && unparsable(t) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); mt != "text/html" {
		t.Fatalf("status %d with Content-Type %q, want an HTML page; body %.300q", a.status, a.header.Get("Content-Type"), a.body)
	}
}

// cleaningRedirect reports whether a is the router's redirect of a path
// with dot segments to its cleaned form: the form was not acted on, and
// the cleaned path checks the token when the client follows.
func cleaningRedirect(path string, a rawAnswer) bool {
	if a.status != http.StatusMovedPermanently && a.status != http.StatusTemporaryRedirect && a.status != http.StatusPermanentRedirect {
		return false
	}
	p, err := url.PathUnescape(path)
	return err == nil && strings.Contains(p+"/", "/../") && a.header.Get("Location") != ""
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// webSession is a browser's cookies and CSRF token, stated by hand so each
// request of the sweep stands alone.
type webSession struct{ cookie, csrf string }

func newWebSession(t *testing.T, base, sessionCookie string) webSession {
	t.Helper()
	a := sendRaw(t, base, rawRequest{method: "GET", path: "/auth/signin", cookie: sessionCookie})
	if a.status == http.StatusSeeOther { // signed in: the form redirects home
		a = sendRaw(t, base, rawRequest{method: "GET", path: "/", cookie: sessionCookie})
	}
	m := csrfInput.FindSubmatch(a.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", a.body)
	}
	tok := string(m[1])
	cookie := "csrf=" + tok
	if sessionCookie != "" {
		cookie += "; " + sessionCookie
	}
	return webSession{cookie: cookie, csrf: tok}
}

// hostileFormValues are form values, already form-encoded as they go on
// the wire.
func hostileFormValues() []namedBytes {
	return []namedBytes{
		nb("empty", ""),
		nb("NUL", "%00"),
		nb("embedded NUL", "a%00b%40example.com"),
		nb("0xff", "%ff%fe"),
		nb("overlong slash", "%c0%af"),
		nb("CESU surrogate", "%ed%a0%80"),
		nb("RTL override", "%e2%80%aeabc"),
		nb("emoji", "%f0%9f%8e%9f"),
		nb("control", "%1b%5b31m"),
		nb("negative", "-1"),
		nb("1e308", "1e308"),
		nb("NaN", "NaN"),
		nb("three decimals", "20.505"),
		nb("comma decimal", "20%2C50"),
		nb("dollar", "%2420"),
		nb("10000 chars", strings.Repeat("x", 10000)),
		nb("HTML", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
		nb("bad escape", "%zz"),
		// The search's engines have query languages: none of it may reach them.
		nb("FTS5 syntax", url.QueryEscape(`"a" NEAR(b c, 2) -d e* OR f AND NOT g ^h {i j}: title_search:x`)),
		nb("tsquery syntax", url.QueryEscape(`a & !b | (c:* <-> 'd') \ e:AB`)),
		nb("lone quote", "%22"),
		nb("lone apostrophe", "%27"),
		nb("price cursor", "5.abc"),
		nb("huge price cursor", "99999999999999999999.abc"),
	}
}

// TestBadInputWeb sends hostile ids, queries and form values to every page,
// signed out and signed in: never a 5xx, always an HTML page (or a
// redirect); a form without the CSRF token is refused with a 4xx.
func TestBadInputWeb(t *testing.T) {
	t.Parallel()
	onEachEngine(t, func(t *testing.T, base string) {
		owner, _, fx := badInputWorld(t, base)
		ownerCookie := sessionOf(t, owner)
		for _, who := range []struct{ name, cookie string }{{"signed out", ""}, {"signed in", ownerCookie}} {
			t.Run(who.name, func(t *testing.T) {
				ws := newWebSession(t, base, who.cookie)
				sweepWeb(t, base, fx, ws)
			})
		}
		if a := sendRaw(t, base, rawRequest{method: "GET", path: "/readyz"}); a.status != http.StatusOK {
			t.Fatalf("/readyz after the sweep = %d %s", a.status, a.body)
		}
		var ownerOrders []orderJSON
		owner.do("GET", "/api/orders", nil, &ownerOrders)
		if len(ownerOrders) != 0 {
			t.Errorf("the web sweep never bought a ticket on sale, yet the owner has orders: %+v", ownerOrders)
		}
		var mine []ticketJSON
		owner.do("GET", "/api/tickets/mine", nil, &mine)
		for _, tk := range mine {
			if !storedTitleOK(tk.Title) {
				t.Errorf("stored a ticket that breaks the rules: %+v", tk)
			}
		}
	})
}

// webEventFields are the fields of the web's event form.
var webEventFields = []string{"name", "venue", "timeZone", "startsAt", "endsAt", "onSaleAt", "faceValue", "capacity", "resaleCapPercent", "transfers", "queue"}

func sweepWeb(t *testing.T, base string, fx badInputFixtures, ws webSession) {
	ids := hostileIDs(fx)
	getPaths := []string{"/tickets/{id}", "/tickets/{id}/edit", "/orders/{id}", "/tickets/{id}/purchase", "/orders/{id}/pay",
		"/events/{id}", "/events/{id}/edit", "/events/{id}/cancel", "/events/{id}/buy", "/tickets/{id}/pdf", "/events/{id}/checkin",
		"/tickets/{id}/history", "/events/{id}/queue"}
	for _, p := range getPaths {
		for _, id := range ids {
			t.Run(fmt.Sprintf("GET %s/id %s", p, id.name), func(t *testing.T) {
				checkWebAnswer(t, sendRaw(t, base, rawRequest{method: "GET", path: strings.ReplaceAll(p, "{id}", string(id.b)), cookie: ws.cookie}))
			})
		}
	}
	plain := []string{"/", "/auth/signup", "/auth/signin", "/auth/signout", "/tickets/new", "/orders", "/listings", "/nowhere", "/static/%00", "/static/..%2f..%2fgo.mod",
		"/events", "/events/mine", "/events/new", "/tickets/mine", "/payouts", "/payouts/onboard"}
	for _, p := range plain {
		for _, v := range append(hostileFormValues(), nb("absent", "")) {
			t.Run(fmt.Sprintf("GET %s/query %s", p, v.name), func(t *testing.T) {
				path := p
				if v.name != "absent" {
					path += "?q=" + string(v.b) + "&next=" + string(v.b) + "&m=" + string(v.b) + "&after=" + string(v.b) + "&sort=" + string(v.b)
				}
				checkWebAnswer(t, sendRaw(t, base, rawRequest{method: "GET", path: path, cookie: ws.cookie}))
			})
		}
	}

	forms := []struct {
		path   string
		fields []string
	}{
		{"/auth/signup", []string{"email", "password", "next"}},
		{"/auth/signin", []string{"email", "password", "next"}},
		{"/auth/signout", []string{"everywhere"}},
		{"/tickets/new", []string{"title", "price"}},
		{"/tickets/{id}/purchase", nil},
		{"/tickets/{id}/edit", []string{"title", "price"}},
		{"/orders/{id}/pay", []string{"token"}},
		{"/orders/{id}/cancel", nil},
		{"/tickets/{id}/withdraw", nil},
		{"/events/new", webEventFields},
		{"/events/{id}/edit", webEventFields},
		{"/events/{id}/buy", []string{"admission"}},
		{"/events/{id}/queue", nil},
		{"/events/{id}/staff", []string{"email"}},
		{"/events/{id}/staff/remove", []string{"email"}},
		{"/events/{id}/cancel", nil},
		{"/events/{id}/checkin", []string{"code"}},
		{"/tickets/{id}/transfer", []string{"email"}},
		{"/transfers/{id}/accept", nil},
		{"/transfers/{id}/cancel", nil},
		{"/payouts/connect", nil},
	}
	valid := map[string]string{"email": "webuser%40example.com", "password": "correct+horse", "next": "%2F",
		"title": "Web+show", "price": "10", "token": "tok_visa", "everywhere": "1",
		"name": "Web+gig", "venue": "Hall", "timeZone": "Europe%2FAmsterdam", "startsAt": "2099-06-21T20%3A00",
		"endsAt": "2099-06-21T23%3A00", "onSaleAt": "2099-06-01T10%3A00", "faceValue": "40%2C50", "capacity": "1",
		"resaleCapPercent": "100", "transfers": "on", "queue": "on", "code": "ABCD-EFGH-JKMN", "admission": "not.an.admission"}
	formBody := func(fields []string, field, value string) []byte {
		vals := []string{"csrf=" + url.QueryEscape(ws.csrf)}
		for _, f := range fields {
			v := valid[f]
			if f == field {
				v = value
			}
			vals = append(vals, f+"="+v)
		}
		return []byte(strings.Join(vals, "&"))
	}
	const formType = "application/x-www-form-urlencoded"
	for _, f := range forms {
		ws := ws
		if f.path == "/auth/signout" && strings.Contains(ws.cookie, "session=") {
			// Signing out revokes the session: sweep it with one of its own.
			ws.cookie = "csrf=" + ws.csrf + "; " + disposable(t)
		}
		// The swept ids include the other user's order and the reserved
		// ticket is not among them, so no purchase or payment can succeed.
		pathIDs := []namedBytes{{"none", nil}}
		if strings.Contains(f.path, "{id}") {
			pathIDs = ids
		}
		for _, id := range pathIDs {
			path := strings.ReplaceAll(f.path, "{id}", string(id.b))
			if strings.HasSuffix(id.name, "ticket") && strings.HasSuffix(f.path, "/purchase") {
				continue // a real purchase of a ticket on sale: allowed, and not bad input
			}
			if id.name == "own ticket" && strings.HasSuffix(f.path, "/withdraw") {
				continue // a real withdrawal: allowed, and not bad input
			}
			if strings.HasSuffix(id.name, "event") && strings.HasSuffix(f.path, "/buy") {
				continue // a real purchase of an event's ticket: allowed, and not bad input
			}
			if id.name == "own event" && strings.HasSuffix(f.path, "/cancel") {
				continue // a real cancellation: allowed, and the event is swept still
			}
			name := f.path
			if id.b != nil {
				name += "/id " + id.name
			}
			t.Run("POST "+name+"/no CSRF", func(t *testing.T) {
				a := sendRaw(t, base, rawRequest{method: "POST", path: path, body: []byte(strings.TrimPrefix(string(formBody(f.fields, "", "")), "csrf="+url.QueryEscape(ws.csrf))),
					contentType: formType, cookie: ws.cookie, form: true})
				checkWebAnswer(t, a)
				if a.status < 400 && !cleaningRedirect(path, a) {
					t.Fatalf("a form without its CSRF token = %d, want 4xx", a.status)
				}
			})
			t.Run("POST "+name+"/wrong CSRF", func(t *testing.T) {
				body := bytes.Replace(formBody(f.fields, "", ""), []byte(url.QueryEscape(ws.csrf)), []byte(strings.Repeat("A", 43)), 1)
				a := sendRaw(t, base, rawRequest{method: "POST", path: path, body: body, contentType: formType, cookie: ws.cookie, form: true})
				checkWebAnswer(t, a)
				if a.status < 400 && !cleaningRedirect(path, a) {
					t.Fatalf("a form with a wrong CSRF token = %d, want 4xx", a.status)
				}
			})
			t.Run("POST "+name+"/valid", func(t *testing.T) {
				checkWebAnswer(t, sendRaw(t, base, rawRequest{method: "POST", path: path, body: formBody(f.fields, "", ""),
					contentType: formType, cookie: ws.cookie, form: true}))
			})
			if id.b != nil && id.name != "NUL" && id.name != "0xff" && id.name != "10000 chars" {
				continue // every field value with a few ids only: the rest is covered above
			}
			for _, field := range f.fields {
				for _, v := range hostileFormValues() {
					t.Run(fmt.Sprintf("POST %s/field %s/%s", name, field, v.name), func(t *testing.T) {
						checkWebAnswer(t, sendRaw(t, base, rawRequest{method: "POST", path: path, body: formBody(f.fields, field, string(v.b)),
							contentType: formType, cookie: ws.cookie, form: true}))
					})
				}
			}
		}
	}
	// Bodies that are not a form at all.
	for _, body := range hostileBodies() {
		t.Run("POST /tickets/new/body "+body.name, func(t *testing.T) {
			checkWebAnswer(t, sendRaw(t, base, rawRequest{method: "POST", path: "/tickets/new", body: body.b,
				contentType: formType, cookie: ws.cookie, form: true}))
		})
	}
}

// ----- fuzzing -----

// FuzzAPI sends fuzzed bodies, ids and sessions to the API routes of a
// real `up` (SQLite; PostgreSQL when TICKETING_TEST_POSTGRES_URL is set)
// and fails on any 5xx or non-JSON error. The seed corpus is the sweep's
// catalogue, so plain `go test` runs it quickly; explore with
//
//	go test -run '^$' -fuzz FuzzAPI -fuzztime 60s ./cmd/ticketing/
func FuzzAPI(f *testing.F) {
	base, owner := fuzzSystem(f)
	fx := badInputFixtures{myTicket: "t", otherTicket: "t", reservedTicket: "t", otherOrder: "o", myEvent: "e", otherEvent: "e", event: "e"}
	routes := apiRoutes(fx)
	for i, r := range routes {
		for _, b := range hostileBodies() {
			if len(b.b) < 4096 { // the fuzzer mutates small inputs best
				f.Add(uint8(i), "x", b.b, i%2 == 0)
			}
		}
		for _, fl := range r.fields {
			for _, v := range hostileValues() {
				f.Add(uint8(i), "x", bodyWith(r, fl[0], v.b), true)
			}
		}
		if strings.Contains(r.path, "{id}") {
			for _, id := range hostileIDs(fx) {
				if raw, err := url.PathUnescape(string(id.b)); err == nil && len(raw) < 100 {
					f.Add(uint8(i), raw, validBody(r), true)
				}
			}
		}
	}
	// Codes at the door: forged, cut, altered, short forms.
	for i, r := range routes {
		if r.path != "/api/checkins" {
			continue
		}
		for _, code := range []string{forgedCode, forgedCode[:len(forgedCode)/2], strings.ToLower(forgedCode),
			strings.Replace(forgedCode, "T1.", "T2.", 1), "0000-0000-0000", "ilo0-ILO0-1111", "T1..", "T1.A.B"} {
			f.Add(uint8(i), "x", []byte(`{"code":`+strconv.Quote(code)+`,"eventId":"e"}`), true)
			f.Add(uint8(i), "x", []byte(`{"code":`+strconv.Quote(code)+`}`), true)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte, signedIn bool) {
		r := routes[int(route)%len(routes)]
		cookie := ""
		switch {
		case signedIn && r.endsSession:
			cookie = disposable(t)
		case signedIn:
			cookie = owner
		}
		// PathEscape puts any bytes on the wire; the server unescapes them
		// back into exactly id.
		path := strings.ReplaceAll(r.path, "{id}", url.PathEscape(id))
		a := sendRaw(t, base, rawRequest{method: r.method, path: path, body: body, contentType: "application/json", cookie: cookie})
		checkAPIAnswer(t, a)
	})
}

// fuzzSystem starts `up` for the fuzzer (startUp wants a *testing.T) and
// signs a user up; it returns the base URL and the user's Cookie header.
func fuzzSystem(f *testing.F) (string, string) {
	f.Helper()
	env := map[string]string{
		"TICKETING_ADDR":       "127.0.0.1:0",
		"TICKETING_DATA_DIR":   f.TempDir(),
		"AUTH_RATE_PER_MINUTE": "0",
		"JWT_KEY":              badInputKey,
	}
	env["STRIPE_WEBHOOK_SECRET"] = testWebhookSecret // the webhook on: its signature check is fuzzed
	if pg := os.Getenv(sqldbtest.PostgresURLEnv); pg != "" {
		env["DATABASE_URL"] = fuzzPostgres(f, pg)
	}
	cfg, err := parseConfig(flag.NewFlagSet("fuzz", flag.ContinueOnError), nil, testEnv(env), modeUp)
	if err != nil {
		f.Fatal(err)
	}
	cfg.catchUp = 50 * time.Millisecond // as in the sweeps: ids are mostly unknown
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := Up(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatalf("up: %v", err)
	}
	f.Cleanup(func() { app.Close(context.Background()) })
	base := "http://" + app.Addr()
	token, err := session.Issue([]byte(badInputKey), session.User{ID: "fuzz-user", Email: "fuzz@example.com", Organizer: true}, time.Now(), 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	return base, session.CookieName + "=" + token
}

// fuzzPostgres creates a database of its own for a fuzzing process, as
// freshPostgres does for a test (which it cannot serve: it wants a *testing.T).
// Fuzzing workers are killed rather than cleaned up, so each database is
// named after its process, and those of processes gone are dropped here.
func fuzzPostgres(f *testing.F, base string) string {
	f.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		f.Fatal(err)
	}
	defer admin.Close()
	dropOrphanFuzzDatabases(admin)
	name := fmt.Sprintf("ticketing_fuzz_%d_%s", os.Getpid(), strings.ToLower(rand.Text()[:10]))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		f.Fatalf("create database: %v", err)
	}
	f.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		f.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// dropOrphanFuzzDatabases drops the databases of fuzzing processes that no
// longer run (best effort: a failure leaves them for the next run).
func dropOrphanFuzzDatabases(admin *sql.DB) {
	rows, err := admin.Query(`SELECT datname FROM pg_database WHERE datname LIKE 'ticketing\_fuzz\_%'`)
	if err != nil {
		return
	}
	var orphans []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.Split(strings.TrimPrefix(name, "ticketing_fuzz_"), "_")[0])
		if err != nil {
			continue
		}
		// Signal 0 only asks whether the process exists.
		if p, err := os.FindProcess(pid); err == nil && errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone) {
			orphans = append(orphans, name)
		}
	}
	rows.Close()
	for _, name := range orphans {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	}
}

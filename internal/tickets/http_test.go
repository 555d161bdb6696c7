package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var (
	seller   = session.User{ID: "seller-1", Email: "seller@example.com"}
	stranger = session.User{ID: "stranger-1", Email: "stranger@example.com"}
)

// handler is the service's API as the wiring serves it.
func handler(s *Service) http.Handler { return httpapitest.Handler(s.Routes) }

func TestHTTP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db)
		h := handler(s)
		ctx := context.Background()

		long := strings.Repeat("a", 201)
		huge := `{"title":"` + strings.Repeat("a", httpapi.MaxBody) + `","price":1}`
		tests := []struct {
			name   string
			method string
			path   string // {mine} and {reserved} stand for fresh tickets' ids
			user   *session.User
			body   string
			status int
			fields []string // for errors: the fields named, "" for none
			before func(t *testing.T, ids map[string]string)
			check  func(t *testing.T, r httpapitest.Response, ids map[string]string)
		}{
			{name: "list", method: "GET", path: "/api/tickets", status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					var list []map[string]any
					if err := json.Unmarshal(r.Body, &list); err != nil {
						t.Fatal(err)
					}
					seen := map[string]bool{}
					for _, tk := range list {
						seen[tk["id"].(string)] = true
						if _, ok := tk["orderId"]; ok {
							t.Fatalf("listed a reserved ticket: %v", tk)
						}
					}
					if !seen[ids["mine"]] || seen[ids["reserved"]] {
						t.Fatalf("list %s: want mine, not reserved", r.Body)
					}
					if list[0]["id"] != ids["mine"] {
						t.Fatalf("newest first: first is %v, want %s", list[0]["id"], ids["mine"])
					}
				}},
			{name: "list search", method: "GET", path: "/api/tickets?q=%25+off", status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					var list []map[string]any
					json.Unmarshal(r.Body, &list)
					if len(list) == 0 {
						t.Fatalf("search found nothing: %s", r.Body)
					}
					for _, tk := range list {
						if !strings.Contains(strings.ToLower(tk["title"].(string)), "% off") {
							t.Fatalf("search returned %v", tk)
						}
					}
				}},
			{name: "list search with NUL", method: "GET", path: "/api/tickets?q=a%00b", status: 400, fields: []string{"q"}},
			{name: "list search invalid UTF-8", method: "GET", path: "/api/tickets?q=a%ffb", status: 400, fields: []string{"q"}},
			{name: "list search too long", method: "GET", path: "/api/tickets?q=" + long, status: 400, fields: []string{"q"}},
			{name: "list limit zero", method: "GET", path: "/api/tickets?limit=0", status: 400, fields: []string{"limit"}},
			{name: "list limit over the page size", method: "GET", path: "/api/tickets?limit=101", status: 400, fields: []string{"limit"}},
			{name: "list limit not a number", method: "GET", path: "/api/tickets?limit=ten", status: 400, fields: []string{"limit"}},
			{name: "list limit negative", method: "GET", path: "/api/tickets?limit=-1", status: 400, fields: []string{"limit"}},
			{name: "list sort unknown", method: "GET", path: "/api/tickets?sort=cheapest", status: 400, fields: []string{"sort"}},
			{name: "list sort in capitals", method: "GET", path: "/api/tickets?sort=PRICE_ASC", status: 400, fields: []string{"sort"}},
			{name: "list price cursor without a price", method: "GET", path: "/api/tickets?sort=price_asc&after=abc", status: 400, fields: []string{"after"}},
			{name: "list price cursor with a bad price", method: "GET", path: "/api/tickets?sort=price_desc&after=-5.abc", status: 400, fields: []string{"after"}},
			{name: "list price cursor with a bad id", method: "GET", path: "/api/tickets?sort=price_asc&after=5.a%2Fb", status: 400, fields: []string{"after"}},
			{name: "list price cursor for the newest order", method: "GET", path: "/api/tickets?after=5.abc", status: 400, fields: []string{"after"}},
			{name: "list search of FTS syntax", method: "GET", path: "/api/tickets?q=" + url.QueryEscape(`"a" NEAR(b c) -d e* OR`), status: 200},
			{name: "list search of tsquery syntax", method: "GET", path: "/api/tickets?q=" + url.QueryEscape(`a & !b | c:* <-> 'd'`), status: 200},
			{name: "list after junk", method: "GET", path: "/api/tickets?after=" + strings.Repeat("x", 5000), status: 400, fields: []string{"after"}},
			{name: "list limit covers every ticket", method: "GET", path: "/api/tickets?limit=100", status: 200,
				check: func(t *testing.T, r httpapitest.Response, _ map[string]string) {
					if link := r.Header.Get("Link"); link != "" {
						t.Fatalf("Link %q on the last page", link)
					}
				}},

			{name: "create signed out", method: "POST", path: "/api/tickets", body: `{"title":"x","price":1}`, status: 401, fields: []string{""}},
			{name: "create", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"  Concert  ","price":20.5}`, status: 201,
				check: func(t *testing.T, r httpapitest.Response, _ map[string]string) {
					tk := r.Object(t)
					if tk["title"] != "Concert" || tk["price"] != 20.5 || tk["userId"] != seller.ID || tk["version"] != 0.0 || tk["id"] == "" {
						t.Fatalf("created %s", r.Body)
					}
					if _, ok := tk["orderId"]; ok {
						t.Fatalf("orderId on a new ticket: %s", r.Body)
					}
					evs := outboxEvents(t, db)
					last := evs[len(evs)-1]
					if tk["status"] != "on_sale" {
						t.Fatalf("status of a new ticket: %s", r.Body)
					}
					want := events.TicketCreated{ID: tk["id"].(string), Version: 0, Title: "Concert", Price: 2050, UserID: seller.ID, Status: "on_sale"}
					if last.Subject != "ticket.created" || last.Created != want {
						t.Fatalf("outbox has %+v, want %+v", last, want)
					}
				}},
			{name: "create price as string", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":"20.50"}`, status: 201,
				check: func(t *testing.T, r httpapitest.Response, _ map[string]string) {
					if p := r.Object(t)["price"]; p != 20.5 {
						t.Fatalf("price %v, want 20.5", p)
					}
					if !strings.Contains(string(r.Body), `"price":20.5,`) {
						t.Fatalf("price not a JSON number: %s", r.Body)
					}
				}},
			{name: "create max price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":1000000}`, status: 201},
			{name: "create three decimals", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":20.505}`, status: 400, fields: []string{"price"}},
			{name: "create three decimals string", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":"20.505"}`, status: 400, fields: []string{"price"}},
			{name: "create negative", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":-1}`, status: 400, fields: []string{"price"}},
			{name: "create zero", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":0}`, status: 400, fields: []string{"price"}},
			{name: "create over max", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":1000000.01}`, status: 400, fields: []string{"price"}},
			{name: "create missing price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x"}`, status: 400, fields: []string{"price"}},
			{name: "create null price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":null}`, status: 400, fields: []string{"price"}},
			{name: "create empty string price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":" "}`, status: 400, fields: []string{"price"},
				check: func(t *testing.T, r httpapitest.Response, _ map[string]string) {
					if !strings.Contains(string(r.Body), "Price is required") {
						t.Fatalf("want 'Price is required': %s", r.Body)
					}
				}},
			{name: "create exponent price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":1e3}`, status: 400, fields: []string{"price"}},
			{name: "create word price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":"ten"}`, status: 400, fields: []string{"price"}},
			{name: "create boolean price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":true}`, status: 400, fields: []string{"price"}},
			{name: "create object price", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":{"usd":1}}`, status: 400, fields: []string{"price"}},
			{name: "create empty title", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"","price":1}`, status: 400, fields: []string{"title"}},
			{name: "create blank title", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"   ","price":1}`, status: 400, fields: []string{"title"}},
			{name: "create missing title", method: "POST", path: "/api/tickets", user: &seller, body: `{"price":1}`, status: 400, fields: []string{"title"}},
			{name: "create long title", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"` + long + `","price":1}`, status: 400, fields: []string{"title"}},
			{name: "create control char title", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"a\u0007b","price":1}`, status: 400, fields: []string{"title"}},
			{name: "create every field wrong", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"","price":"1.234"}`, status: 400, fields: []string{"price", "title"}},
			{name: "create title not a string", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":5,"price":1}`, status: 400, fields: []string{"title"}},
			{name: "create bad JSON", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x",`, status: 400, fields: []string{""}},
			{name: "create not an object", method: "POST", path: "/api/tickets", user: &seller, body: `[1,2]`, status: 400, fields: []string{""}},
			{name: "create empty body", method: "POST", path: "/api/tickets", user: &seller, body: ``, status: 400, fields: []string{""}},
			{name: "create trailing data", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":1}{}`, status: 400, fields: []string{""}},
			{name: "create unknown field", method: "POST", path: "/api/tickets", user: &seller, body: `{"title":"x","price":1,"userId":"me"}`, status: 400, fields: []string{"userId"}},
			{name: "create huge body", method: "POST", path: "/api/tickets", user: &seller, body: huge, status: 413, fields: []string{""}},

			{name: "mine lists the seller's tickets, reserved too", method: "GET", path: "/api/tickets/mine", user: &seller, status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					var list []map[string]any
					if err := json.Unmarshal(r.Body, &list); err != nil {
						t.Fatal(err)
					}
					seen := map[string]bool{}
					for _, tk := range list {
						if tk["userId"] != seller.ID {
							t.Fatalf("mine lists someone else's ticket: %v", tk)
						}
						seen[tk["id"].(string)] = true
					}
					if !seen[ids["mine"]] || !seen[ids["reserved"]] || list[0]["id"] != ids["mine"] {
						t.Fatalf("mine = %s, want the on-sale and the reserved ticket, newest first", r.Body)
					}
				}},
			{name: "mine of someone with no tickets", method: "GET", path: "/api/tickets/mine", user: &stranger, status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					if strings.TrimSpace(string(r.Body)) != "[]" {
						t.Fatalf("mine = %s, want []", r.Body)
					}
				}},
			{name: "mine signed out", method: "GET", path: "/api/tickets/mine", status: 401, fields: []string{""}},
			{name: "get", method: "GET", path: "/api/tickets/{mine}", status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					if tk := r.Object(t); tk["id"] != ids["mine"] || tk["title"] != "50% off show" || tk["price"] != 12.0 {
						t.Fatalf("got %s", r.Body)
					}
				}},
			{name: "get reserved shows its order", method: "GET", path: "/api/tickets/{reserved}", status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					if tk := r.Object(t); tk["orderId"] != ids["order"] || tk["version"] != 1.0 {
						t.Fatalf("got %s", r.Body)
					}
				}},
			{name: "get unknown", method: "GET", path: "/api/tickets/0190a8e4-0000-7000-8000-000000000000", status: 404, fields: []string{""}},
			{name: "get malformed", method: "GET", path: "/api/tickets/not-an-id%25%00", status: 404, fields: []string{""}},
			{name: "get absurdly long id", method: "GET", path: "/api/tickets/" + strings.Repeat("x", 5000), status: 404, fields: []string{""}},
			{name: "withdraw", method: "DELETE", path: "/api/tickets/{mine}", user: &seller, status: 204,
				check: func(t *testing.T, _ httpapitest.Response, ids map[string]string) {
					got, _ := s.Get(ctx, ids["mine"])
					if got.Status != StatusWithdrawn || got.Version != 1 {
						t.Fatalf("withdrawn ticket stored as %+v", got)
					}
					evs := updates(outboxEvents(t, db))
					want := events.TicketUpdated{ID: ids["mine"], Version: 1, Title: "50% off show", Price: 1200, UserID: seller.ID, Status: "withdrawn"}
					if evs[len(evs)-1] != want {
						t.Fatalf("last ticket.updated %+v, want %+v", evs[len(evs)-1], want)
					}
					if r := httpapitest.Do(t, h, "GET", "/api/tickets/"+ids["mine"], nil, ""); !strings.Contains(string(r.Body), `"status":"withdrawn"`) {
						t.Fatalf("GET after withdrawal: %s", r.Body)
					}
					if list, _ := s.List(ctx, Listing{Search: "50% off"}); slices.ContainsFunc(list, func(x Ticket) bool { return x.ID == ids["mine"] }) {
						t.Fatal("a withdrawn ticket is still listed")
					}
					// Again: done already, nothing new published.
					n := len(outboxEvents(t, db))
					if r := httpapitest.Do(t, h, "DELETE", "/api/tickets/"+ids["mine"], &seller, ""); r.Status != 204 || len(outboxEvents(t, db)) != n {
						t.Fatalf("second withdrawal: %d %s", r.Status, r.Body)
					}
					if r := httpapitest.Do(t, h, "PUT", "/api/tickets/"+ids["mine"], &seller, `{"title":"x","price":1}`); r.Status != 400 || !strings.Contains(string(r.Body), `"ticket_withdrawn"`) {
						t.Fatalf("edit of a withdrawn ticket: %d %s", r.Status, r.Body)
					}
				}},
			{name: "withdraw signed out", method: "DELETE", path: "/api/tickets/{mine}", status: 401, fields: []string{""}},
			{name: "withdraw not the owner", method: "DELETE", path: "/api/tickets/{mine}", user: &stranger, status: 401, fields: []string{""}},
			{name: "withdraw reserved", method: "DELETE", path: "/api/tickets/{reserved}", user: &seller, status: 400, fields: []string{""},
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					if !strings.Contains(string(r.Body), `"ticket_reserved_locked"`) {
						t.Fatalf("body %s", r.Body)
					}
					if got, _ := s.Get(ctx, ids["reserved"]); got.Status != StatusReserved || got.Version != 1 {
						t.Fatalf("reserved ticket changed: %+v", got)
					}
				}},
			{name: "withdraw sold", method: "DELETE", path: "/api/tickets/{reserved}", user: &seller, status: 400, fields: []string{""},
				before: func(t *testing.T, ids map[string]string) {
					if err := s.sell(ctx, ids["reserved"], ids["order"], "buyer"); err != nil {
						t.Fatal(err)
					}
				},
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					if !strings.Contains(string(r.Body), `"ticket_sold"`) {
						t.Fatalf("body %s", r.Body)
					}
				}},
			{name: "withdraw unknown", method: "DELETE", path: "/api/tickets/0190a8e4-0000-7000-8000-000000000000", user: &seller, status: 404, fields: []string{""}},
			{name: "withdraw malformed", method: "DELETE", path: "/api/tickets/a.b", user: &seller, status: 404, fields: []string{""}},

			{name: "update", method: "PUT", path: "/api/tickets/{mine}", user: &seller, body: `{"title":"New title","price":"99.99"}`, status: 200,
				check: func(t *testing.T, r httpapitest.Response, ids map[string]string) {
					tk := r.Object(t)
					if tk["title"] != "New title" || tk["price"] != 99.99 || tk["version"] != 1.0 {
						t.Fatalf("updated %s", r.Body)
					}
					evs := updates(outboxEvents(t, db))
					want := events.TicketUpdated{ID: ids["mine"], Version: 1, Title: "New title", Price: 9999, UserID: seller.ID, Status: "on_sale"}
					if evs[len(evs)-1] != want {
						t.Fatalf("last ticket.updated %+v, want %+v", evs[len(evs)-1], want)
					}
					if got, _ := s.Get(ctx, ids["mine"]); got.Title != "New title" || got.Version != 1 {
						t.Fatalf("stored %+v", got)
					}
				}},
			{name: "update signed out", method: "PUT", path: "/api/tickets/{mine}", body: `{"title":"x","price":1}`, status: 401, fields: []string{""}},
			{name: "update not the owner", method: "PUT", path: "/api/tickets/{mine}", user: &stranger, body: `{"title":"x","price":1}`, status: 401, fields: []string{""},
				check: func(t *testing.T, _ httpapitest.Response, ids map[string]string) {
					if got, _ := s.Get(ctx, ids["mine"]); got.Title != "50% off show" || got.Version != 0 {
						t.Fatalf("a stranger changed the ticket: %+v", got)
					}
				}},
			{name: "update not the owner of a reserved ticket", method: "PUT", path: "/api/tickets/{reserved}", user: &stranger, body: `{"title":"x","price":1}`, status: 401, fields: []string{""}},
			{name: "update reserved", method: "PUT", path: "/api/tickets/{reserved}", user: &seller, body: `{"title":"x","price":1}`, status: 400, fields: []string{""},
				check: func(t *testing.T, _ httpapitest.Response, ids map[string]string) {
					if got, _ := s.Get(ctx, ids["reserved"]); got.Title != "reserved show" || got.Version != 1 {
						t.Fatalf("reserved ticket changed: %+v", got)
					}
				}},
			{name: "update unknown", method: "PUT", path: "/api/tickets/0190a8e4-0000-7000-8000-000000000000", user: &seller, body: `{"title":"x","price":1}`, status: 404, fields: []string{""}},
			{name: "update invalid", method: "PUT", path: "/api/tickets/{mine}", user: &seller, body: `{"title":"","price":0}`, status: 400, fields: []string{"title", "price"}},
			{name: "update bad price notation", method: "PUT", path: "/api/tickets/{mine}", user: &seller, body: `{"title":"ok","price":"20.505"}`, status: 400, fields: []string{"price"}},
			{name: "update unknown field", method: "PUT", path: "/api/tickets/{mine}", user: &seller, body: `{"title":"x","price":1,"version":7}`, status: 400, fields: []string{"version"}},
			{name: "update huge body", method: "PUT", path: "/api/tickets/{mine}", user: &seller, body: huge, status: 413, fields: []string{""}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				reserved := mustCreate(t, s, seller.ID, "reserved show", 1500)
				// Each subtest's order is its own: a sold order stays sold
				// (sold_orders), as order ids are never reused.
				ids := map[string]string{"reserved": reserved.ID, "order": "order-" + reserved.ID}
				if err := s.reserve(ctx, reserved.ID, reservation(ids["order"], reserved)); err != nil {
					t.Fatal(err)
				}
				ids["mine"] = mustCreate(t, s, seller.ID, "50% off show", 1200).ID
				if tt.before != nil {
					tt.before(t, ids)
				}
				path := strings.NewReplacer("{mine}", ids["mine"], "{reserved}", ids["reserved"]).Replace(tt.path)
				before := len(outboxEvents(t, db))

				r := httpapitest.Do(t, h, tt.method, path, tt.user, tt.body)
				if r.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
				}
				if tt.status >= 400 {
					got, _ := r.Errors(t)
					if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
						// Order of fields is not part of the contract.
						if len(got) != len(tt.fields) || !sameSet(got, tt.fields) {
							t.Fatalf("error fields %q, want %q: %s", got, tt.fields, r.Body)
						}
					}
					if after := len(outboxEvents(t, db)); after != before {
						t.Fatalf("a refused request published %d events", after-before)
					}
				}
				if tt.check != nil {
					tt.check(t, r, ids)
				}
			})
		}
	}, migs...)
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestHTTPListPages follows the Link headers of GET /api/tickets?limit=
// from the first page to the last.
func TestHTTPListPages(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db)
		h := handler(s)
		// Prices repeat, so the price orders page through ties by id.
		prices := []int64{300, 100, 300, 200, 100}
		var newest []string
		byPrice := map[int64][]string{}
		for i, p := range prices {
			tk := mustCreate(t, s, seller.ID, fmt.Sprintf("Show %d", i), p)
			newest = append([]string{tk.ID}, newest...)
			byPrice[p] = append(byPrice[p], tk.ID) // ids grow: UUIDv7
		}
		var cheapest []string
		for _, p := range []int64{100, 200, 300} {
			cheapest = append(cheapest, byPrice[p]...)
		}
		dearest := slices.Clone(cheapest)
		slices.Reverse(dearest)
		mustCreate(t, s, seller.ID, "Other", 150) // never matches q=show
		tests := []struct {
			name  string
			first string
			pages int
			want  []string
		}{
			{"two at a time", "/api/tickets?limit=2&q=show", 3, newest},
			{"exactly full pages", "/api/tickets?limit=5&q=show", 1, newest},
			{"one at a time", "/api/tickets?limit=1&q=Show", 5, newest},
			{"newest named", "/api/tickets?limit=2&q=show&sort=newest", 3, newest},
			{"cheapest first", "/api/tickets?limit=2&q=show&sort=price_asc", 3, cheapest},
			{"cheapest first one at a time", "/api/tickets?limit=1&q=show&sort=price_asc", 5, cheapest},
			{"dearest first", "/api/tickets?limit=2&q=show&sort=price_desc", 3, dearest},
			{"dearest first one at a time", "/api/tickets?limit=1&q=show&sort=price_desc", 5, dearest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, pages := followPages(t, h, tt.first, nil, "/api/tickets?")
				if strings.Join(got, ",") != strings.Join(tt.want, ",") || pages != tt.pages {
					t.Fatalf("%d pages of %v, want %d pages of %v", pages, got, tt.pages, tt.want)
				}
			})
		}
	}, migs...)
}

// followPages GETs first as user and the pages its Link headers name
// after it (each must start with prefix), and returns the ids of every
// page's tickets in order and how many pages there were.
func followPages(t *testing.T, h http.Handler, first string, user *session.User, prefix string) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for path := first; path != ""; pages++ {
		if pages > 10 {
			t.Fatalf("more than 10 pages: %v", got)
		}
		r := httpapitest.Do(t, h, "GET", path, user, "")
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		var list []map[string]any
		if err := json.Unmarshal(r.Body, &list); err != nil {
			t.Fatal(err)
		}
		for _, tk := range list {
			got = append(got, tk["id"].(string))
		}
		path = ""
		if link := r.Header.Get("Link"); link != "" {
			next, ok := strings.CutSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			if !ok || !strings.HasPrefix(next, prefix) {
				t.Fatalf("Link %q", link)
			}
			path = next
		}
	}
	return got, pages
}

// TestHTTPMinePages follows the Link headers of GET /api/tickets/mine from
// the first page to the last, through the caller's free-form listings and
// the issued tickets they hold, interleaved in time.
func TestHTTPMinePages(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 2, time.Now)
		h := handler(s)
		buyer := session.User{ID: "buyer", Email: "buyer@example.com"}
		var want []string // newest first
		add := func(id string) { want = append([]string{id}, want...) }
		for i := range 2 {
			add(mustCreate(t, s, buyer.ID, fmt.Sprintf("Listed %d", i), 1000).ID)
		}
		ev := show("ev-mine", 4)
		if err := s.Issue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		created := createdEvents(outboxEvents(t, db))
		var issued []string
		for _, c := range created {
			if c.EventID == ev.ID {
				issued = append(issued, c.ID)
			}
		}
		for i, id := range issued[:2] {
			tk, _ := s.Get(ctx, id)
			if i == 1 {
				// A listing while the event's tickets are issued and sold.
				add(mustCreate(t, s, buyer.ID, "Listed between", 1000).ID)
			}
			order := fmt.Sprintf("o-mine-%d", i)
			if err := s.reserve(ctx, id, reservation(order, tk)); err != nil {
				t.Fatal(err)
			}
			if err := s.sell(ctx, id, order, buyer.ID); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 2 {
			add(mustCreate(t, s, buyer.ID, fmt.Sprintf("Listed later %d", i), 1000).ID)
		}
		mustCreate(t, s, seller.ID, "Someone else's", 1000)
		// The held tickets were issued between the listings, in one
		// millisecond perhaps: their place is the list's own order, which
		// the whole list in one page gives.
		all, err := s.Mine(ctx, buyer.ID, "", 0)
		if err != nil || len(all) != 7 {
			t.Fatalf("mine = %v (%v), want 5 listings and 2 held tickets", all, err)
		}
		var whole []string
		for _, tk := range all {
			whole = append(whole, tk.ID)
		}
		if !slices.Contains(whole, issued[0]) || !slices.Contains(whole, issued[1]) ||
			whole[0] != want[0] || whole[6] != want[4] {
			t.Fatalf("mine = %v, want the held %v between the listings %v", whole, issued[:2], want)
		}
		for _, tt := range []struct {
			first string
			pages int
		}{
			{"/api/tickets/mine", 1},
			{"/api/tickets/mine?limit=1", 7},
			{"/api/tickets/mine?limit=3", 3},
			{"/api/tickets/mine?limit=7", 1},
			{"/api/tickets/mine?limit=100", 1},
		} {
			t.Run(tt.first, func(t *testing.T) {
				got, pages := followPages(t, h, tt.first, &buyer, "/api/tickets/mine?")
				if strings.Join(got, ",") != strings.Join(whole, ",") || pages != tt.pages {
					t.Fatalf("%d pages of %v, want %d pages of %v", pages, got, tt.pages, whole)
				}
			})
		}
		for _, bad := range []struct{ query, field string }{
			{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"}, {"after=%21", "after"},
		} {
			r := httpapitest.Do(t, h, "GET", "/api/tickets/mine?"+bad.query, &buyer, "")
			if r.Status != 400 || !strings.Contains(string(r.Body), `"`+bad.field+`"`) {
				t.Errorf("GET /api/tickets/mine?%s = %d %s, want 400 naming %s", bad.query, r.Status, r.Body, bad.field)
			}
		}
		// A cursor naming no ticket: an empty page, not an error.
		r := httpapitest.Do(t, h, "GET", "/api/tickets/mine?after=0123456789abcdef0123456789", &buyer, "")
		if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
			t.Errorf("unknown cursor = %d %s, want 200 []", r.Status, r.Body)
		}
	}, migs...)
}

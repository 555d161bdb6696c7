package orders_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestHTTP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Window: 10 * time.Minute, Fee: orders.DefaultFee})
		alice, bob := token(t, "alice"), token(t, "bob")

		f.addTicket(t, "t-free", "Concert", 2050)
		f.addTicket(t, "t-held", "Play", 1000)
		f.addTicket(t, "t-paid", "Match", 3000)
		f.addTicket(t, "t-gone", "Opera", 4000)
		held, err := f.svc.Reserve(ctx, "alice", "t-held", "")
		if err != nil {
			t.Fatal(err)
		}
		paid, err := f.svc.Reserve(ctx, "alice", "t-paid", "")
		if err != nil {
			t.Fatal(err)
		}
		// Payment is not wired yet: complete the order the way it will.
		if err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.Exec(`UPDATE orders SET status = 'complete', version = 1 WHERE id = $1`, paid.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// tickets answers the reservation (v1, reserved) and the payment
		// (v2, sold); the replica learns the sale from the second.
		for v, st := range []string{events.TicketReserved, events.TicketSold} {
			if err := f.svc.UpdateTicket(ctx, orders.Ticket{ID: "t-paid", Title: "Match", Price: 3000, Version: int64(v + 1), Status: st}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.AddTicket(ctx, orders.Ticket{ID: "t-carol", Title: "Own", Price: 100, UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
		f.addTicket(t, "t-withdrawn", "Ballet", 500)
		if err := f.svc.UpdateTicket(ctx, orders.Ticket{ID: "t-withdrawn", Title: "Ballet", Price: 500, Version: 1, Status: events.TicketWithdrawn}); err != nil {
			t.Fatal(err)
		}
		gone, err := f.svc.Reserve(ctx, "alice", "t-gone", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Cancel(ctx, "alice", gone.ID); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, method, path, body, tok string
			want                          int
			// wantField is the field of the first error, if any.
			wantField, wantMessage string
			// wantCancelled is how many order.cancelled events the request adds.
			wantCancelled int
			check         func(t *testing.T, w *httptest.ResponseRecorder)
		}{
			{name: "list signed out", method: "GET", path: "/api/orders", want: 401},
			{name: "create signed out", method: "POST", path: "/api/orders", body: `{"ticketId":"t-free"}`, want: 401},
			{name: "get signed out", method: "GET", path: "/api/orders/" + held.ID, want: 401},
			{name: "cancel signed out", method: "DELETE", path: "/api/orders/" + held.ID, want: 401},
			{name: "forged cookie", method: "GET", path: "/api/orders", tok: "not-a-token", want: 401},

			{name: "create no body", method: "POST", path: "/api/orders", tok: alice, want: 400},
			{name: "create bad JSON", method: "POST", path: "/api/orders", body: `{"ticketId":`, tok: alice, want: 400},
			{name: "create missing ticketId", method: "POST", path: "/api/orders", body: `{}`, tok: alice, want: 400, wantField: "ticketId"},
			{name: "create empty ticketId", method: "POST", path: "/api/orders", body: `{"ticketId":"  "}`, tok: alice, want: 400, wantField: "ticketId"},
			{name: "create null ticketId", method: "POST", path: "/api/orders", body: `{"ticketId":null}`, tok: alice, want: 400, wantField: "ticketId"},
			{name: "create number ticketId", method: "POST", path: "/api/orders", body: `{"ticketId":12}`, tok: alice, want: 400, wantField: "ticketId"},
			{name: "create array body", method: "POST", path: "/api/orders", body: `["t-free"]`, tok: alice, want: 400},
			{name: "create unknown ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"nope"}`, tok: alice, want: 404},
			{name: "create NUL ticketId", method: "POST", path: "/api/orders", body: `{"ticketId":"a\u0000b"}`, tok: alice, want: 404},
			{name: "create huge ticketId", method: "POST", path: "/api/orders", body: `{"ticketId":"` + strings.Repeat("x", 5000) + `"}`, tok: alice, want: 404},
			{name: "create held ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"t-held"}`, tok: bob, want: 400, wantMessage: "Ticket is already reserved"},
			{name: "create paid ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"t-paid"}`, tok: bob, want: 400, wantMessage: "Ticket is no longer available"},
			{name: "create withdrawn ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"t-withdrawn"}`, tok: bob, want: 400, wantMessage: "Ticket is no longer available"},
			{name: "create own ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"t-carol"}`, tok: token(t, "carol"), want: 400, wantMessage: "You cannot order your own ticket",
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					if !strings.Contains(w.Body.String(), `"code":"own_ticket"`) {
						t.Errorf("body %s, want code own_ticket", w.Body)
					}
				}},
			{name: "create", method: "POST", path: "/api/orders", body: `{"ticketId":"t-free"}`, tok: bob, want: 201,
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					o := httpapitest.Decode[orderBody](t, w)
					if o.ID == "" || o.UserID != "bob" || o.Status != "created" || o.Version != 0 {
						t.Errorf("order = %+v", o)
					}
					exp, err := time.Parse(time.RFC3339, o.ExpiresAt)
					if err != nil || !strings.HasSuffix(o.ExpiresAt, "Z") {
						t.Errorf("expiresAt %q is not RFC 3339 UTC: %v", o.ExpiresAt, err)
					}
					// The fake clock has been read a few times before: the
					// window starts at one of its readings.
					if d := exp.Sub(start); d < 10*time.Minute || d > 10*time.Minute+time.Hour || d%time.Second != 0 {
						t.Errorf("expiresAt = %v, want a clock reading + 10m", exp)
					}
					if o.Ticket.ID != "t-free" || o.Ticket.Title != "Concert" || string(o.Ticket.Price) != "20.5" || o.Ticket.Version != 0 {
						t.Errorf("ticket = %+v (price %s)", o.Ticket, o.Ticket.Price)
					}
					// 10% of $20.50 is $2.05, plus $0.50.
					if string(o.Fee) != "2.55" || string(o.Total) != "23.05" {
						t.Errorf("fee %s, total %s; want 2.55 and 23.05", o.Fee, o.Total)
					}
					want := fmt.Sprintf(`{"id":%q,"version":0,"status":"created","userId":"bob","expiresAt":%q,"ticket":{"id":"t-free","price":2050,"version":0},"fee":255,"total":2305,"payee":"seller"}`,
						o.ID, o.ExpiresAt)
					if !slices.Contains(outboxPayloads(t, db, events.SubjectOrderCreated), want) {
						t.Errorf("no order.created %s in the outbox", want)
					}
				}},
			{name: "create cancelled ticket again", method: "POST", path: "/api/orders", body: `{"ticketId":"t-gone"}`, tok: bob, want: 201},

			{name: "get", method: "GET", path: "/api/orders/" + held.ID, tok: alice, want: 200,
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					o := httpapitest.Decode[orderBody](t, w)
					if o.ID != held.ID || o.Status != "created" || o.Ticket.Title != "Play" || string(o.Ticket.Price) != "10" {
						t.Errorf("order = %+v", o)
					}
					if o.ExpiresAt != held.ExpiresAt.Format(time.RFC3339Nano) {
						t.Errorf("expiresAt = %s, want %s", o.ExpiresAt, held.ExpiresAt.Format(time.RFC3339Nano))
					}
				}},
			{name: "get unknown", method: "GET", path: "/api/orders/nope", tok: alice, want: 404},
			{name: "get NUL id", method: "GET", path: "/api/orders/a%00b", tok: alice, want: 404},
			{name: "get invalid UTF-8 id", method: "GET", path: "/api/orders/%FF%FE", tok: alice, want: 404},
			{name: "get someone else's", method: "GET", path: "/api/orders/" + held.ID, tok: bob, want: 401},

			{name: "cancel unknown", method: "DELETE", path: "/api/orders/nope", tok: alice, want: 404},
			{name: "cancel NUL id", method: "DELETE", path: "/api/orders/a%00b", tok: alice, want: 404},
			{name: "cancel invalid UTF-8 id", method: "DELETE", path: "/api/orders/%FF", tok: alice, want: 404},
			{name: "cancel someone else's", method: "DELETE", path: "/api/orders/" + held.ID, tok: bob, want: 401},
			{name: "cancel complete", method: "DELETE", path: "/api/orders/" + paid.ID, tok: alice, want: 400},
			{name: "cancel", method: "DELETE", path: "/api/orders/" + held.ID, tok: alice, want: 204, wantCancelled: 1,
				check: func(t *testing.T, _ *httptest.ResponseRecorder) {
					o := httpapitest.Decode[orderBody](t, request(f.handler, "GET", "/api/orders/"+held.ID, "", alice))
					if o.Status != "cancelled" || o.Version != 1 || o.CancelledBy != "buyer" {
						t.Errorf("after cancel: status %s version %d by %q, want cancelled 1 by buyer", o.Status, o.Version, o.CancelledBy)
					}
				}},
			{name: "cancel again", method: "DELETE", path: "/api/orders/" + held.ID, tok: alice, want: 204, wantCancelled: 0},
			{name: "reserve released ticket", method: "POST", path: "/api/orders", body: `{"ticketId":"t-held"}`, tok: bob, want: 201},

			{name: "list", method: "GET", path: "/api/orders", tok: alice, want: 200,
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					if got := len(httpapitest.Decode[[]orderBody](t, w)); got != 3 {
						t.Errorf("alice has %d orders, want 3", got)
					}
				}},
			{name: "list empty", method: "GET", path: "/api/orders", tok: token(t, "carol"), want: 200,
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					if strings.TrimSpace(w.Body.String()) != "[]" {
						t.Errorf("body = %s, want []", w.Body)
					}
				}},
			{name: "wrong method", method: "PUT", path: "/api/orders/" + held.ID, tok: alice, want: 405},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := outboxCount(t, db, string(events.SubjectOrderCancelled))
				w := request(f.handler, tt.method, tt.path, tt.body, tt.tok)
				if w.Code != tt.want {
					t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, w.Code, w.Body, tt.want)
				}
				if tt.want >= 400 {
					e := httpapitest.Decode[errorBody](t, w)
					if len(e.Errors) == 0 || e.Errors[0].Message == "" {
						t.Errorf("error body = %s", w.Body)
					} else if e.Errors[0].Field != tt.wantField {
						t.Errorf("field = %q, want %q (%s)", e.Errors[0].Field, tt.wantField, w.Body)
					} else if tt.wantMessage != "" && e.Errors[0].Message != tt.wantMessage {
						t.Errorf("message = %q, want %q", e.Errors[0].Message, tt.wantMessage)
					}
				}
				if got := outboxCount(t, db, string(events.SubjectOrderCancelled)) - before; got != tt.wantCancelled {
					t.Errorf("order.cancelled events added = %d, want %d", got, tt.wantCancelled)
				}
				if tt.check != nil {
					tt.check(t, w)
				}
			})
		}
	}, migs...)
}

func TestListNewestFirst(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		alice := token(t, "alice")
		for i := range 5 {
			f.addTicket(t, fmt.Sprintf("t%d", i), fmt.Sprintf("Show %d", i), int64(100*(i+1)))
		}
		f.addTicket(t, "t-bob", "Bob's", 100)
		for i := range 5 {
			w := request(f.handler, "POST", "/api/orders", fmt.Sprintf(`{"ticketId":"t%d"}`, i), alice)
			if w.Code != http.StatusCreated {
				t.Fatalf("create %d = %d %s", i, w.Code, w.Body)
			}
		}
		if w := request(f.handler, "POST", "/api/orders", `{"ticketId":"t-bob"}`, token(t, "bob")); w.Code != http.StatusCreated {
			t.Fatalf("bob's create = %d", w.Code)
		}
		w := request(f.handler, "GET", "/api/orders", "", alice)
		if w.Code != http.StatusOK {
			t.Fatalf("list = %d %s", w.Code, w.Body)
		}
		list := httpapitest.Decode[[]orderBody](t, w)
		if len(list) != 5 {
			t.Fatalf("got %d orders, want alice's 5: %s", len(list), w.Body)
		}
		for i, o := range list {
			want := 4 - i
			if o.Ticket.ID != fmt.Sprintf("t%d", want) || o.Ticket.Title != fmt.Sprintf("Show %d", want) ||
				string(o.Ticket.Price) != fmt.Sprint(want+1) || o.UserID != "alice" {
				t.Errorf("list[%d] = %+v (price %s), want the order of t%d", i, o, o.Ticket.Price, want)
			}
		}
	}, migs...)
}

func TestMaxPending(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{MaxPending: 3})
		alice := token(t, "alice")
		for i := range 6 {
			f.addTicket(t, fmt.Sprintf("t%d", i), "Show", 100)
		}
		var ids []string
		for i := range 3 {
			w := request(f.handler, "POST", "/api/orders", fmt.Sprintf(`{"ticketId":"t%d"}`, i), alice)
			if w.Code != http.StatusCreated {
				t.Fatalf("create %d = %d %s", i, w.Code, w.Body)
			}
			ids = append(ids, httpapitest.Decode[orderBody](t, w).ID)
		}
		if w := request(f.handler, "POST", "/api/orders", `{"ticketId":"t3"}`, alice); w.Code != http.StatusTooManyRequests {
			t.Fatalf("4th pending order = %d %s, want 429", w.Code, w.Body)
		}
		// Another user is not affected.
		if w := request(f.handler, "POST", "/api/orders", `{"ticketId":"t4"}`, token(t, "bob")); w.Code != http.StatusCreated {
			t.Fatalf("bob = %d %s, want 201", w.Code, w.Body)
		}
		// A cancelled order no longer counts; a complete one never does.
		if w := request(f.handler, "DELETE", "/api/orders/"+ids[0], "", alice); w.Code != http.StatusNoContent {
			t.Fatalf("cancel = %d", w.Code)
		}
		if err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
			_, err := tx.Exec(`UPDATE orders SET status = 'complete', version = 1 WHERE id = $1`, ids[1])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, tk := range []string{"t3", "t5"} {
			if w := request(f.handler, "POST", "/api/orders", `{"ticketId":"`+tk+`"}`, alice); w.Code != http.StatusCreated {
				t.Fatalf("create %s after freeing slots = %d %s", tk, w.Code, w.Body)
			}
		}
		if w := request(f.handler, "POST", "/api/orders", `{"ticketId":"t0"}`, alice); w.Code != http.StatusTooManyRequests {
			t.Fatalf("pending full again = %d %s, want 429", w.Code, w.Body)
		}
	}, migs...)
}

// TestOrderShowsItsSnapshot: the order shows the price and version of the
// ticket it reserved, not the replica's later ones (a seller's edit that
// tickets applied just before the reservation reached it), in GET one and
// GET all alike.
func TestOrderShowsItsSnapshot(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{})
		f.addTicket(t, "t1", "Show", 1000)
		o, err := f.svc.Reserve(ctx, "alice", "t1", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.UpdateTicket(ctx, orders.Ticket{ID: "t1", Title: "Show, front row", Price: 100000, Version: 1}); err != nil {
			t.Fatal(err)
		}
		alice := token(t, "alice")
		one := httpapitest.Decode[orderBody](t, request(f.handler, "GET", "/api/orders/"+o.ID, "", alice))
		all := httpapitest.Decode[[]orderBody](t, request(f.handler, "GET", "/api/orders", "", alice))
		if len(all) != 1 {
			t.Fatalf("list = %+v", all)
		}
		for what, got := range map[string]orderBody{"GET one": one, "GET all": all[0]} {
			if string(got.Ticket.Price) != "10" || got.Ticket.Version != 0 || got.Ticket.Title != "Show, front row" {
				t.Errorf("%s: ticket %+v (price %s), want the snapshot's price 10 and version 0 (and the current title)", what, got.Ticket, got.Ticket.Price)
			}
		}
	}, migs...)
}

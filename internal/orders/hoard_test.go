package orders_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// requestFrom is request from the direct peer remote ("host:port"), with
// an X-Forwarded-For header when xff is not empty.
func requestFrom(h http.Handler, method, path, body, tok, remote, xff string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tok})
	}
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHoldsAllow(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	limits := orders.Limits{MaxPending: 2, MaxPerAddress: 5, Window: 15 * time.Minute}
	tests := []struct {
		name      string
		holds     orders.Holds
		want      error
		wantRetry time.Duration
		wantIn    string // part of the message
	}{
		{name: "nothing held", holds: orders.Holds{}},
		{name: "under every limit", holds: orders.Holds{UserPending: 1, AddrPending: 4}},
		{
			name:  "user at the limit",
			holds: orders.Holds{UserPending: 2, UserFirstExpiry: now.Add(7 * time.Minute), AddrPending: 2},
			want:  orders.ErrTooManyPending, wantRetry: 7 * time.Minute, wantIn: "unpaid orders",
		},
		{
			name:  "user limit before the address limit",
			holds: orders.Holds{UserPending: 2, UserFirstExpiry: now.Add(time.Minute), AddrPending: 5, AddrFirstExpiry: now.Add(time.Second)},
			want:  orders.ErrTooManyPending, wantRetry: time.Minute,
		},
		{
			name:  "address at the limit",
			holds: orders.Holds{UserPending: 0, AddrPending: 5, AddrFirstExpiry: now.Add(90 * time.Second)},
			want:  orders.ErrTooManyFromAddress, wantRetry: 90 * time.Second, wantIn: "try again in 2 minutes",
		},
		{
			name:  "address hold already overdue: at least a second",
			holds: orders.Holds{AddrPending: 5, AddrFirstExpiry: now.Add(-time.Second)},
			want:  orders.ErrTooManyFromAddress, wantRetry: time.Second,
		},
		{
			name:  "released the ticket just now",
			holds: orders.Holds{LastCancelled: now},
			want:  orders.ErrReleasedRecently, wantRetry: 15 * time.Minute,
			wantIn: "reserve it again in 15 minutes (at 2030-01-02 03:15 UTC)",
		},
		{
			name:  "released the ticket almost a window ago",
			holds: orders.Holds{LastCancelled: now.Add(-15*time.Minute + 30*time.Second)},
			want:  orders.ErrReleasedRecently, wantRetry: 30 * time.Second, wantIn: "in 30 seconds",
		},
		{name: "released the ticket a window ago", holds: orders.Holds{LastCancelled: now.Add(-15 * time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.holds.Allow(now, limits)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Allow = %v, want %v", err, tt.want)
			}
			if err == nil {
				return
			}
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.TooMany || fe.RetryAfter != tt.wantRetry {
				t.Errorf("Allow = %#v, want a TooMany fault with RetryAfter %v", fe, tt.wantRetry)
			}
			if !strings.Contains(fe.Message, tt.wantIn) || fe.Message != err.Error() {
				t.Errorf("message = %q (error %q), want it to contain %q", fe.Message, err, tt.wantIn)
			}
		})
	}
}

// TestReserveAgainAfterRelease: a buyer whose order for a ticket was
// cancelled, by them or by the expiry, waits one window before reserving
// that ticket again; anyone else may reserve it at once.
func TestReserveAgainAfterRelease(t *testing.T) {
	const window = 10 * time.Minute
	tests := []struct {
		name    string
		release func(t *testing.T, f *fixture, o orderBody)
	}{
		{"cancelled by the buyer", func(t *testing.T, f *fixture, o orderBody) {
			if w := request(f.handler, "DELETE", "/api/orders/"+o.ID, "", token(t, "alice")); w.Code != http.StatusNoContent {
				t.Fatalf("cancel = %d %s", w.Code, w.Body)
			}
		}},
		{"expired", func(t *testing.T, f *fixture, o orderBody) {
			if err := f.svc.Expire(context.Background(), o.ID); err != nil {
				t.Fatalf("expire: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				clk := clocktest.New(start)
				f := newFixture(t, db, orders.Config{Window: window, Now: clk.Now})
				alice, bob := token(t, "alice"), token(t, "bob")
				f.addTicket(t, "t1", "Show", 1000)
				f.addTicket(t, "t2", "Other show", 1000)
				reserve := func(tok, ticket string) *httptest.ResponseRecorder {
					return request(f.handler, "POST", "/api/orders", `{"ticketId":"`+ticket+`"}`, tok)
				}

				w := reserve(alice, "t1")
				if w.Code != http.StatusCreated {
					t.Fatalf("first reserve = %d %s", w.Code, w.Body)
				}
				first := httpapitest.Decode[orderBody](t, w)
				if first.ReserveAgainAt != "" {
					t.Errorf("an unpaid order says reserveAgainAt %q", first.ReserveAgainAt)
				}
				clk.Advance(2 * time.Minute)
				tt.release(t, f, first)
				// The order says when the pause it started ends, by the
				// rule the refusals below enforce.
				again := clk.Now().Add(window).UTC().Format(time.RFC3339)
				w = request(f.handler, "GET", "/api/orders/"+first.ID, "", alice)
				if got := httpapitest.Decode[orderBody](t, w).ReserveAgainAt; w.Code != http.StatusOK || got != again {
					t.Fatalf("released order = %d reserveAgainAt %q, want %q", w.Code, got, again)
				}

				w = reserve(alice, "t1")
				if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "600" {
					t.Fatalf("re-reserve at once = %d Retry-After %q %s, want 429 after 600 s",
						w.Code, w.Header().Get("Retry-After"), w.Body)
				}
				if msg := httpapitest.Decode[errorBody](t, w).Errors[0].Message; !strings.Contains(msg, "reserve it again in 10 minutes (at 2030-01-02 03:16 UTC)") {
					t.Errorf("message = %q, want when", msg)
				}
				// Other tickets are not affected.
				if w := reserve(alice, "t2"); w.Code != http.StatusCreated {
					t.Fatalf("alice reserves another ticket = %d %s", w.Code, w.Body)
				}

				clk.Advance(window - time.Second)
				if w := reserve(alice, "t1"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
					t.Fatalf("re-reserve a second early = %d Retry-After %q, want 429 after 1 s", w.Code, w.Header().Get("Retry-After"))
				}

				// Another buyer takes it meanwhile, and releases it: that
				// pauses bob, not alice.
				w = reserve(bob, "t1")
				if w.Code != http.StatusCreated {
					t.Fatalf("bob reserves the released ticket = %d %s", w.Code, w.Body)
				}
				if w := request(f.handler, "DELETE", "/api/orders/"+httpapitest.Decode[orderBody](t, w).ID, "", bob); w.Code != http.StatusNoContent {
					t.Fatalf("bob cancels = %d", w.Code)
				}

				clk.Advance(time.Second)
				if w := reserve(alice, "t1"); w.Code != http.StatusCreated {
					t.Fatalf("re-reserve after the window = %d %s, want 201", w.Code, w.Body)
				}
				if n := outboxCount(t, db, events.SubjectOrderCreated); n != 4 {
					t.Errorf("order.created events = %d, want 4", n)
				}
			}, migs...)
		})
	}
}

// TestMaxPendingPerAddress: accounts calling from one client address share
// its bound of unpaid orders, however the address reaches orders.
func TestMaxPendingPerAddress(t *testing.T) {
	const window = 10 * time.Minute
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	type from struct{ remote, xff string }
	tests := []struct {
		name string
		// accounts are where the three accounts of one person call from.
		accounts [3]from
		// other is another person, elsewhere.
		other from
	}{
		{
			name:     "direct peers",
			accounts: [3]from{{"203.0.113.7:1111", ""}, {"203.0.113.7:2222", ""}, {"203.0.113.7:3333", ""}},
			other:    from{"203.0.113.8:1111", ""},
		},
		{
			name: "through a trusted proxy",
			accounts: [3]from{{"10.0.0.1:80", "203.0.113.7"}, {"10.0.0.2:80", "203.0.113.7"},
				{"10.0.0.1:80", "198.51.100.9, 203.0.113.7"}},
			other: from{"10.0.0.1:80", "203.0.113.8"},
		},
		{
			name: "forged X-Forwarded-For from an untrusted peer",
			accounts: [3]from{{"203.0.113.7:1111", "192.0.2.1"}, {"203.0.113.7:1111", "192.0.2.2"},
				{"203.0.113.7:1111", "192.0.2.3"}},
			other: from{"10.0.0.1:80", "192.0.2.1"},
		},
		{
			name: "one IPv6 /64",
			accounts: [3]from{{"[2001:db8:1:2::a]:1", ""}, {"[2001:db8:1:2::b]:1", ""},
				{"10.0.0.1:80", "2001:db8:1:2:ffff::1"}},
			other: from{"[2001:db8:1:3::a]:1", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				clk := clocktest.New(start)
				f := newFixture(t, db, orders.Config{
					Window: window, Now: clk.Now, MaxPending: 2, MaxPendingPerAddress: 5, TrustedProxies: trusted,
				})
				for i := range 10 {
					f.addTicket(t, fmt.Sprintf("t%d", i), "Show", 100)
				}
				reserve := func(user string, at from, ticket int) *httptest.ResponseRecorder {
					t.Helper()
					return requestFrom(f.handler, "POST", "/api/orders", fmt.Sprintf(`{"ticketId":"t%d"}`, ticket),
						token(t, user), at.remote, at.xff)
				}
				// Five holds over three accounts, a minute apart.
				next := 0
				for i, user := range []string{"ann", "ann", "ann2", "ann2", "ann3"} {
					if w := reserve(user, tt.accounts[i/2], next); w.Code != http.StatusCreated {
						t.Fatalf("hold %d by %s = %d %s", i, user, w.Code, w.Body)
					}
					next++
					clk.Advance(time.Minute)
				}
				// The sixth: ann3 is under her own limit, the address is not.
				w := reserve("ann3", tt.accounts[2], next)
				if w.Code != http.StatusTooManyRequests {
					t.Fatalf("sixth hold from the address = %d %s, want 429", w.Code, w.Body)
				}
				// The first hold ends at start+10m; it is start+5m.
				if got := w.Header().Get("Retry-After"); got != "300" {
					t.Errorf("Retry-After = %q, want 300 (the first hold's expiry)", got)
				}
				if msg := httpapitest.Decode[errorBody](t, w).Errors[0].Message; !strings.Contains(msg, "from your network; try again in 5 minutes") {
					t.Errorf("message = %q", msg)
				}
				// Someone else, elsewhere, is not affected.
				if w := reserve("bob", tt.other, next); w.Code != http.StatusCreated {
					t.Fatalf("another address = %d %s, want 201", w.Code, w.Body)
				}
				next++
				// A cancelled hold frees a place for the address.
				list, err := f.svc.Orders(context.Background(), "ann")
				if err != nil {
					t.Fatal(err)
				}
				if err := f.svc.Cancel(context.Background(), "ann", list[0].ID); err != nil {
					t.Fatal(err)
				}
				if w := reserve("ann3", tt.accounts[2], next); w.Code != http.StatusCreated {
					t.Fatalf("after a cancellation = %d %s, want 201", w.Code, w.Body)
				}
			}, migs...)
		})
	}
}

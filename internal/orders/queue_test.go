package orders_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestReserveNeedsAdmission: while the waiting room of an event with
// queue on is open, POST /api/orders {eventId} is 403 queue_required
// (with the room's address) without an admission, or with one of another
// user or event, and 201 with the caller's own; once the room has
// closed, none is needed.
func TestReserveNeedsAdmission(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		key, err := admission.Key(testKey)
		if err != nil {
			t.Fatal(err)
		}
		clock := clocktest.New(start)
		f := newFixture(t, db, orders.Config{Now: clock.Now, AdmissionKey: key})
		f.issue(t, "ev-q", 5, start)
		f.issue(t, "ev-other", 1, start)
		ev := events.EventState{ID: "ev-q", OrganizerID: "organizer", Name: "Big show", Venue: "Arena",
			StartsAt: start.Add(48 * time.Hour), EndsAt: start.Add(50 * time.Hour), OnSaleAt: start, FaceValue: 4500,
			Capacity: 5, Queue: true, Status: events.EventStatusScheduled}
		if err := deliver(t, f.svc, events.EventCreated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		expires := start.Add(admission.TTL)
		mint := func(user, event string) string {
			tok, err := admission.Issue(key, user, event, expires)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		reserve := func(buyer, body string) (int, string, http.Header) {
			w := request(f.handler, "POST", "/api/orders", body, token(t, buyer))
			if w.Code == http.StatusCreated {
				return w.Code, "", w.Header()
			}
			code, _ := errorCode(t, w.Body.String())
			return w.Code, code, w.Header()
		}
		tests := []struct{ name, buyer, body string }{
			{"no admission", "buyer-1", `{"eventId":"ev-q"}`},
			{"a forged one", "buyer-1", `{"eventId":"ev-q","admission":"x.y.z"}`},
			{"another user's", "buyer-1", `{"eventId":"ev-q","admission":"` + mint("buyer-2", "ev-q") + `"}`},
			{"another event's", "buyer-1", `{"eventId":"ev-q","admission":"` + mint("buyer-1", "ev-other") + `"}`},
			{"a session token", "buyer-1", `{"eventId":"ev-q","admission":"` + token(t, "buyer-1") + `"}`},
		}
		for _, tc := range tests {
			st, code, h := reserve(tc.buyer, tc.body)
			if st != http.StatusForbidden || code != orders.QueueRequiredCode || !strings.Contains(h.Get("Link"), "/api/events/ev-q/queue") {
				t.Errorf("%s: %d %s Link %q, want 403 queue_required", tc.name, st, code, h.Get("Link"))
			}
		}
		if st, code, _ := reserve("buyer-1", `{"eventId":"ev-q","admission":"`+mint("buyer-1", "ev-q")+`"}`); st != http.StatusCreated {
			t.Fatalf("with an admission: %d %s", st, code)
		}
		// An event without a queue needs none.
		if st, code, _ := reserve("buyer-3", `{"eventId":"ev-other"}`); st != http.StatusCreated {
			t.Fatalf("an event without a queue: %d %s", st, code)
		}
		clock.Advance(admission.TTL)
		if st, code, _ := reserve("buyer-2", `{"eventId":"ev-q","admission":"`+mint("buyer-2", "ev-q")+`"}`); st != http.StatusForbidden {
			t.Fatalf("with an expired admission: %d %s", st, code)
		}
		clock.Advance(events.QueueOpenAfter)
		if st, code, _ := reserve("buyer-2", `{"eventId":"ev-q"}`); st != http.StatusCreated {
			t.Fatalf("after the room closed: %d %s", st, code)
		}
	}, migs...)
}

package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/money"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// issue adds n tickets of eventID to the replica, as their ticket.created
// would: the organizer's, at 45.00, on sale from onSaleAt. It returns
// their ids.
func (f *fixture) issue(tb testing.TB, eventID string, n int, onSaleAt time.Time) []string {
	tb.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
		err := f.svc.AddTicket(context.Background(), orders.Ticket{ID: out[i], Title: "Night Opera — Royal Hall",
			Price: money.Cents(4500), Status: events.TicketOnSale, UserID: "organizer", EventID: eventID, OnSaleAt: onSaleAt})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// deliver hands ev to the service's listener for its subject, as the bus
// would.
func deliver(tb testing.TB, svc *orders.Service, ev events.Event) error {
	tb.Helper()
	for _, l := range svc.Listeners() {
		if l.Subject == ev.Subject() {
			return l.Handle(context.Background(), []byte(mustJSON(tb, ev)))
		}
	}
	tb.Fatalf("no listener for %s", ev.Subject())
	return nil
}

type codedError struct {
	Errors []struct {
		Message string `json:"message"`
		Field   string `json:"field"`
		Code    string `json:"code"`
	} `json:"errors"`
}

func errorCode(tb testing.TB, body string) (code, field string) {
	tb.Helper()
	var e codedError
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) != 1 {
		tb.Fatalf("error body %s (%v)", body, err)
	}
	return e.Errors[0].Code, e.Errors[0].Field
}

// TestReserveFromEvent: POST /api/orders {eventId} takes any one free
// ticket of the event at face value once it is on sale, and says why not
// otherwise.
func TestReserveFromEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		clock := clocktest.New(start)
		f := newFixture(t, db, orders.Config{Now: clock.Now})
		opens := start.Add(time.Hour)
		tickets := f.issue(t, "ev-1", 2, opens)
		f.addTicket(t, "free-form", "A free-form seat", 1000)

		tests := []struct {
			name, user, body string
			status           int
			code, field      string
		}{
			{"unknown event", "buyer", `{"eventId":"ev-404"}`, 404, "not_found", ""},
			{"malformed event id", "buyer", `{"eventId":"ev/../1"}`, 404, "not_found", ""},
			{"before the on-sale", "buyer", `{"eventId":"ev-1"}`, 409, "not_on_sale_yet", ""},
			{"a given ticket before the on-sale", "buyer", `{"ticketId":"` + tickets[0] + `"}`, 409, "not_on_sale_yet", ""},
			{"the organizer", "organizer", `{"eventId":"ev-1"}`, 400, "own_ticket", ""},
			{"both ids", "buyer", `{"eventId":"ev-1","ticketId":"free-form"}`, 400, "invalid", "eventId"},
			{"neither id", "buyer", `{"eventId":"  "}`, 400, "invalid", "ticketId"},
			{"event id not a string", "buyer", `{"eventId":12}`, 400, "", ""},
		}
		for _, tc := range tests {
			w := request(f.handler, "POST", "/api/orders", tc.body, token(t, tc.user))
			if w.Code != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
				continue
			}
			if tc.code == "" {
				continue
			}
			if code, field := errorCode(t, w.Body.String()); code != tc.code || field != tc.field {
				t.Errorf("%s: code %q field %q, want %q %q", tc.name, code, field, tc.code, tc.field)
			}
		}
		w := request(f.handler, "POST", "/api/orders", `{"eventId":"ev-1"}`, token(t, "buyer"))
		if ra := w.Header().Get("Retry-After"); ra != "3600" || !strings.Contains(w.Body.String(), opens.Format(time.RFC3339)) {
			t.Errorf("not on sale yet: Retry-After %q, body %s", ra, w.Body)
		}

		clock.Advance(time.Hour)
		got := map[string]bool{}
		for i := range 2 {
			w := request(f.handler, "POST", "/api/orders", `{"eventId":"ev-1"}`, token(t, fmt.Sprintf("buyer-%d", i)))
			var o struct {
				orderBody
				Ticket struct {
					ID      string  `json:"id"`
					Price   float64 `json:"price"`
					EventID string  `json:"eventId"`
				} `json:"ticket"`
			}
			if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &o) != nil {
				t.Fatalf("reserve %d: %d %s", i, w.Code, w.Body)
			}
			if o.Ticket.EventID != "ev-1" || o.Ticket.Price != 45 || o.Status != "created" || got[o.Ticket.ID] {
				t.Fatalf("order %d = %s", i, w.Body)
			}
			got[o.Ticket.ID] = true
		}
		w = request(f.handler, "POST", "/api/orders", `{"eventId":"ev-1"}`, token(t, "late"))
		if code, _ := errorCode(t, w.Body.String()); w.Code != 409 || code != "sold_out" {
			t.Errorf("after the last ticket: %d %s, want 409 sold_out", w.Code, w.Body)
		}
		if n := outboxCount(t, db, events.SubjectOrderCreated); n != 2 {
			t.Errorf("order.created = %d, want 2", n)
		}

		// A paid order keeps its ticket taken, though the replica has not
		// heard yet; a cancelled one frees it at once.
		list, err := f.svc.Orders(context.Background(), "buyer-0")
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		if err := f.svc.Pay(context.Background(), list[0].ID, orders.Payment{ID: "pay-0", StripeID: "ch_0"}); err != nil {
			t.Fatal(err)
		}
		w = request(f.handler, "POST", "/api/orders", `{"eventId":"ev-1"}`, token(t, "late"))
		if w.Code != 409 {
			t.Fatalf("after a payment: %d %s, want still sold out", w.Code, w.Body)
		}
		list, _ = f.svc.Orders(context.Background(), "buyer-1")
		if err := f.svc.Cancel(context.Background(), "buyer-1", list[0].ID); err != nil {
			t.Fatal(err)
		}
		w = request(f.handler, "POST", "/api/orders", `{"eventId":"ev-1"}`, token(t, "late"))
		if w.Code != 201 || !strings.Contains(w.Body.String(), list[0].Ticket.ID) {
			t.Errorf("after a cancellation: %d %s, want its ticket", w.Code, w.Body)
		}
	}, migs...)
}

// TestReserveFromEventRace: many more buyers than tickets at once, on two
// replicas of orders: exactly as many orders as tickets, no ticket in two
// unpaid orders, the others told sold out.
func TestReserveFromEventRace(t *testing.T) {
	const (
		capacity = 20
		buyers   = 80
	)
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			a, b := replicas(t, engine, orders.Config{})
			a.issue(t, "ev-hot", capacity, time.Time{})
			codes := race(t, buyers, []*fixture{a, b}, func(i int) (string, string) {
				return `{"eventId":"ev-hot"}`, token(t, fmt.Sprintf("buyer-%d", i))
			})
			if codes[http.StatusCreated] != capacity || codes[http.StatusConflict] != buyers-capacity {
				t.Errorf("statuses = %v, want %d 201 and %d 409", codes, capacity, buyers-capacity)
			}
			var orders, tickets int
			err := b.db.Read().QueryRow(`SELECT count(*), count(DISTINCT ticket_id) FROM orders
				WHERE status IN ('created', 'awaiting:payment')`).Scan(&orders, &tickets)
			if err != nil || orders != capacity || tickets != capacity {
				t.Errorf("unpaid orders = %d over %d tickets (%v), want %d each", orders, tickets, err, capacity)
			}
			if n := outboxCount(t, a.db, events.SubjectOrderCreated); n != capacity {
				t.Errorf("order.created = %d, want %d", n, capacity)
			}
		})
	}
}

// TestEventCancelledCancelsOrders: a ticket.updated that withdraws an
// issued ticket with its order on it (the event was cancelled) cancels an
// unpaid order as event_cancelled, once, even delivered twice or after an
// early delivery; a paid order stays complete and says its refund is
// pending; the event's tickets are then not on sale.
func TestEventCancelledCancelsOrders(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		ids := f.issue(t, "ev-off", 3, time.Time{})
		ctx := context.Background()
		unpaid, err := f.svc.ReserveFromEvent(ctx, "buyer", "ev-off", "")
		if err != nil {
			t.Fatal(err)
		}
		paid, err := f.svc.ReserveFromEvent(ctx, "payer", "ev-off", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, paid.ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		var rest string
		for _, id := range ids {
			if id != unpaid.Ticket.ID && id != paid.Ticket.ID {
				rest = id
			}
		}
		upd := func(id, orderID, status string, version int64) events.TicketUpdated {
			return events.TicketUpdated{ID: id, Version: version, Title: "Night Opera — Royal Hall", Price: 4500,
				UserID: "organizer", OrderID: orderID, Status: status, EventID: "ev-off"}
		}
		// Tickets' story: v1 reserved (the order.created applied), v2
		// withdrawn with the order still on it. v2 first is early.
		withdrawn := upd(unpaid.Ticket.ID, unpaid.ID, events.TicketWithdrawn, 2)
		if err := deliver(t, f.svc, withdrawn); !isBehind(err) {
			t.Fatalf("v2 before v1 = %v, want ErrBehind", err)
		}
		for _, ev := range []events.Event{
			upd(unpaid.Ticket.ID, unpaid.ID, events.TicketReserved, 1), withdrawn, withdrawn,
			upd(paid.Ticket.ID, paid.ID, events.TicketReserved, 1),
			upd(paid.Ticket.ID, paid.ID, events.TicketHeld, 2),
			upd(paid.Ticket.ID, paid.ID, events.TicketVoid, 3),
			upd(rest, "", events.TicketWithdrawn, 1),
		} {
			if err := deliver(t, f.svc, ev); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.svc.Order(ctx, "buyer", unpaid.ID)
		if err != nil || got.Status != orders.StatusCancelled || got.CancelledBy != events.CancelledByEventCancelled {
			t.Fatalf("unpaid order = %+v (%v), want cancelled by event_cancelled", got, err)
		}
		cancelled := outboxPayloads(t, db, events.SubjectOrderCancelled)
		if len(cancelled) != 1 || !strings.Contains(cancelled[0], `"cancelledBy":"event_cancelled"`) {
			t.Fatalf("order.cancelled = %v, want one, event_cancelled", cancelled)
		}
		w := request(f.handler, "GET", "/api/orders/"+paid.ID, "", token(t, "payer"))
		if !strings.Contains(w.Body.String(), `"status":"complete"`) ||
			!strings.Contains(w.Body.String(), `"notice":"Event cancelled — refund pending"`) ||
			!strings.Contains(w.Body.String(), `"eventCancelled":true`) {
			t.Errorf("paid order of a cancelled event = %s", w.Body)
		}
		w = request(f.handler, "POST", "/api/orders", `{"eventId":"ev-off"}`, token(t, "late"))
		if code, _ := errorCode(t, w.Body.String()); w.Code != 409 || code != "event_cancelled" {
			t.Errorf("reserve from a cancelled event: %d %s, want 409 event_cancelled", w.Code, w.Body)
		}
	}, migs...)
}

// isBehind reports whether err is an early event's (replica.ErrBehind).
func isBehind(err error) bool {
	var early interface{ EarlyMessage() bool }
	return errors.As(err, &early) && early.EarlyMessage()
}

// TestRestorePicked: a ticket marked for an order that then lost the
// INSERT gets back the mark of the unpaid order holding it, so that
// order's cancellation frees it again.
func TestRestorePicked(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		ids := f.issue(t, "ev-r", 1, time.Time{})
		ctx := context.Background()
		o, err := f.svc.Reserve(ctx, "buyer", ids[0], "")
		if err != nil {
			t.Fatal(err)
		}
		picked := func() string {
			var p *string
			if err := db.Read().QueryRow(`SELECT picked_order_id FROM tickets WHERE id = $1`, ids[0]).Scan(&p); err != nil {
				t.Fatal(err)
			}
			if p == nil {
				return ""
			}
			return *p
		}
		if got := picked(); got != o.ID {
			t.Fatalf("after a reservation by ticket id the mark is %q, want %q", got, o.ID)
		}
		store := orders.NewStore(db)
		err = db.WithTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := tx.Exec(`UPDATE tickets SET picked_order_id = 'the-loser' WHERE id = $1`, ids[0]); err != nil {
				return err
			}
			return store.RestorePicked(ctx, tx, ids[0])
		})
		if err != nil || picked() != o.ID {
			t.Fatalf("restored mark = %q (%v), want %q", picked(), err, o.ID)
		}
		if err := f.svc.Cancel(ctx, "buyer", o.ID); err != nil {
			t.Fatal(err)
		}
		if got := picked(); got != "" {
			t.Fatalf("after the cancellation the mark is %q, want none", got)
		}
	}, migs...)
}

// TestReserveFromEndedEvent: once the event's end (its endsAt, from the
// event.* messages orders keeps) has come, POST /api/orders {eventId} is
// 409 event_ended though tickets are left; an edit that moves the end
// later is followed; an event orders has no times of is not ended.
func TestReserveFromEndedEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		clock := clocktest.New(start)
		f := newFixture(t, db, orders.Config{Now: clock.Now})
		issued := f.issue(t, "ev-end", 3, start)
		f.issue(t, "ev-unknown", 1, start)
		ev := events.EventState{ID: "ev-end", OrganizerID: "organizer", Name: "Night Opera", Venue: "Royal Hall",
			StartsAt: start.Add(time.Hour), EndsAt: start.Add(3 * time.Hour), OnSaleAt: start, FaceValue: 4500,
			Capacity: 3, Status: events.EventStatusScheduled}
		moved := ev
		moved.Version, moved.EndsAt = 1, start.Add(4*time.Hour)
		// The edit comes first: it waits for the event it follows.
		if err := deliver(t, f.svc, events.EventUpdated{EventState: moved}); err == nil {
			t.Fatal("event.updated v1 before event.created applied")
		}
		if err := deliver(t, f.svc, events.EventCreated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		reserve := func(buyer, eventID string) (int, string) {
			w := request(f.handler, "POST", "/api/orders", `{"eventId":"`+eventID+`"}`, token(t, buyer))
			if w.Code == http.StatusCreated {
				return w.Code, ""
			}
			code, _ := errorCode(t, w.Body.String())
			return w.Code, code
		}
		clock.Advance(2 * time.Hour) // started, not ended: latecomers may still buy
		if st, code := reserve("buyer-1", "ev-end"); st != 201 {
			t.Fatalf("after the start, before the end: %d %s", st, code)
		}
		clock.Advance(time.Hour) // at endsAt of version 0
		if st, code := reserve("buyer-2", "ev-end"); st != 409 || code != "event_ended" {
			t.Fatalf("at the end: %d %s, want 409 event_ended", st, code)
		}
		if err := deliver(t, f.svc, events.EventUpdated{EventState: moved}); err != nil {
			t.Fatal(err)
		}
		if st, code := reserve("buyer-2", "ev-end"); st != 201 {
			t.Fatalf("the end moved an hour later: %d %s", st, code)
		}
		clock.Advance(time.Hour)
		if st, code := reserve("buyer-3", "ev-end"); st != 409 || code != "event_ended" {
			t.Fatalf("at the moved end: %d %s, want 409 event_ended", st, code)
		}
		// Its tickets named by id (as a resale listing is ordered) are
		// refused too: the event's end comes before their status.
		for _, id := range issued {
			w := request(f.handler, "POST", "/api/orders", `{"ticketId":"`+id+`"}`, token(t, "buyer-4"))
			if code, _ := errorCode(t, w.Body.String()); w.Code != http.StatusConflict || code != "event_ended" {
				t.Errorf("ticket %s after the end: %d %s, want 409 event_ended", id, w.Code, w.Body)
			}
		}
		if st, code := reserve("buyer-3", "ev-unknown"); st != 201 {
			t.Fatalf("an event orders has no times of: %d %s, want a reservation", st, code)
		}
	}, migs...)
}

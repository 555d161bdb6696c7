package tickets

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var onSale = time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC)

// show is an event.created's state: capacity tickets at 45.00.
func show(id string, capacity int) events.EventState {
	return events.EventState{
		ID: id, OrganizerID: "organizer", Name: "Night Opera", Venue: "Royal Hall",
		StartsAt: onSale.Add(30 * 24 * time.Hour), OnSaleAt: onSale, FaceValue: 4500,
		Capacity: capacity, Status: events.EventStatusScheduled,
	}
}

func chunked(tb testing.TB, db *sqldb.DB, chunk int, now func() time.Time) *Service {
	tb.Helper()
	ob := outbox.New(db, natsbustest.NopPublisher{}, natsbustest.Logger(tb), outbox.Config{})
	return New(db, ob, natsbustest.Logger(tb), Config{Chunk: chunk, Now: now})
}

// eventTickets counts the event's tickets by status.
func eventTickets(tb testing.TB, db *sqldb.DB, eventID string) map[Status]int {
	tb.Helper()
	rows, err := db.Read().Query(`SELECT status, count(*) FROM tickets WHERE event_id = $1 GROUP BY status`, eventID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[Status]int{}
	for rows.Next() {
		var (
			st string
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			tb.Fatal(err)
		}
		out[Status(st)] = n
	}
	return out
}

func createdEvents(evs []pending) []events.TicketCreated {
	var out []events.TicketCreated
	for _, e := range evs {
		if e.Subject == events.SubjectTicketCreated {
			out = append(out, e.Created)
		}
	}
	return out
}

// TestIssue: event.created issues capacity tickets in chunks, each with
// its ticket.created; a second delivery issues nothing more; the tickets
// are neither rows of the list nor of the organizer's listings.
func TestIssue(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 7, time.Now)
		free := mustCreate(t, s, "seller", "Free-form opera seat", 1000)
		ev := show("ev-1", 20)
		for range 2 {
			if err := s.Issue(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		if got := eventTickets(t, db, ev.ID); got[StatusOnSale] != 20 || len(got) != 1 {
			t.Fatalf("tickets = %v, want 20 on sale", got)
		}
		created := createdEvents(outboxEvents(t, db))
		if len(created) != 21 {
			t.Fatalf("ticket.created events = %d, want 1 + 20", len(created))
		}
		seen := map[string]bool{}
		for _, c := range created[1:] {
			if c.EventID != ev.ID || !c.OnSaleAt.Equal(onSale) || c.Price != 4500 || c.UserID != "organizer" ||
				c.Title != "Night Opera — Royal Hall" || c.Status != events.TicketOnSale || seen[c.ID] {
				t.Fatalf("ticket.created = %+v", c)
			}
			seen[c.ID] = true
		}
		list, err := s.List(ctx, Listing{Search: "opera"})
		if err != nil || len(list) != 1 || list[0].ID != free.ID {
			t.Fatalf("list = %v (%v), want only the free-form listing", list, err)
		}
		all, err := s.List(ctx, Listing{})
		if err != nil || len(all) != 1 {
			t.Fatalf("whole list = %d tickets (%v), want 1", len(all), err)
		}
		mine, err := s.Mine(ctx, "organizer", "", 0)
		if err != nil || len(mine) != 0 {
			t.Fatalf("organizer's mine = %d (%v), want none", len(mine), err)
		}
		// The organizer's stock does not count against MAX_LISTINGS.
		mustCreate(t, chunked(t, db, 7, time.Now), "organizer", "A spare seat", 1000)
		// Nor can it be edited or withdrawn on its own.
		id := created[1].ID
		if _, err := s.Update(ctx, "organizer", id, Fields{Title: "x", Price: 1}); !errors.Is(err, ErrIssued) {
			t.Errorf("edit of an issued ticket = %v, want ErrIssued", err)
		}
		if err := s.Withdraw(ctx, "organizer", id); !errors.Is(err, ErrIssued) {
			t.Errorf("withdrawal of an issued ticket = %v, want ErrIssued", err)
		}
		rec := httptest.NewRecorder()
		mux := http.NewServeMux()
		s.Routes(mux)
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/tickets/"+id, nil))
		if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, `"eventId":"ev-1"`) ||
			!strings.Contains(body, `"onSaleAt":"2031-05-01T10:00:00Z"`) {
			t.Errorf("GET issued ticket = %d %s", rec.Code, body)
		}
	}, migs...)
}

// TestIssueResumesAfterCrash: issuing that stops after its first chunk
// (the process died) is finished by the redelivered event.created, with
// every seat issued exactly once.
func TestIssueResumesAfterCrash(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, crash := context.WithCancel(context.Background())
		calls := 0
		// The clock is read once per chunk: the second chunk dies.
		s := chunked(t, db, 4, func() time.Time {
			if calls++; calls == 2 {
				crash()
			}
			return time.Now()
		})
		ev := show("ev-crash", 10)
		if err := s.Issue(ctx, ev); err == nil {
			t.Fatal("issue survived its crash")
		}
		if got := eventTickets(t, db, ev.ID); got[StatusOnSale] != 4 {
			t.Fatalf("after the crash = %v, want the first chunk of 4", got)
		}
		if err := s.Issue(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if got := eventTickets(t, db, ev.ID); got[StatusOnSale] != 10 {
			t.Fatalf("after the redelivery = %v, want 10", got)
		}
		if n := len(createdEvents(outboxEvents(t, db))); n != 10 {
			t.Fatalf("ticket.created = %d, want 10", n)
		}
	}, migs...)
}

// TestIssueTwiceAtOnce: two replicas handling one event.created at once
// (a redelivery while the first still runs) issue every seat once.
func TestIssueTwiceAtOnce(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			cfg := sqldbtest.Config(t, engine, migs...)
			a := chunked(t, sqldbtest.OpenConfig(t, cfg), 50, time.Now)
			bdb := sqldbtest.OpenConfig(t, cfg)
			b := chunked(t, bdb, 50, time.Now)
			ev := show("ev-twice", 1000)
			var wg sync.WaitGroup
			for _, s := range []*Service{a, b} {
				wg.Go(func() {
					if err := s.Issue(context.Background(), ev); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := eventTickets(t, bdb, ev.ID); got[StatusOnSale] != 1000 {
				t.Fatalf("tickets = %v, want 1000", got)
			}
			if n := len(createdEvents(outboxEvents(t, bdb))); n != 1000 {
				t.Fatalf("ticket.created = %d, want 1000", n)
			}
		})
	}
}

// TestCancelEvent: event.cancelled withdraws unsold tickets (a reserved
// one keeps its order, for orders to cancel), voids held ones, and stops
// issuing; applied again it publishes nothing. What comes for a ticket
// of the cancelled event later is answered accordingly.
func TestCancelEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 3, time.Now)
		ev := show("ev-off", 8)
		if err := s.Issue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 0, 8)
		for _, c := range createdEvents(outboxEvents(t, db)) {
			ids = append(ids, c.ID)
		}
		held, reserved, paidLate, fresh := ids[0], ids[1], ids[2], ids[3]
		for _, r := range []struct{ ticket, order string }{{held, "o-held"}, {reserved, "o-res"}, {paidLate, "o-late"}} {
			tk, _ := s.Get(ctx, r.ticket)
			if err := s.reserve(ctx, r.ticket, reservation(r.order, tk)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.sell(ctx, held, "o-held", "buyer"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, held)
		if got.Status != StatusHeld || got.HolderID != "buyer" || got.CodeVersion != 1 || got.UserID != "organizer" {
			t.Fatalf("paid issued ticket = %+v, want held by the buyer, code version 1", got)
		}
		if db.Engine() == sqldb.SQLite {
			// Only the held one of the event's tickets is in the word
			// index (and the free-form title never matches "royal").
			var n int
			if err := db.Read().QueryRow(`SELECT count(*) FROM tickets_fts WHERE tickets_fts MATCH 'royal'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("indexed tickets of the event = %d (%v), want the held one", n, err)
			}
		}
		mine, err := s.Mine(ctx, "buyer", "", 0)
		if err != nil || len(mine) != 1 || mine[0].ID != held {
			t.Fatalf("buyer's mine = %v (%v), want the held ticket", mine, err)
		}
		if mine, err := s.Mine(ctx, "organizer", "", 0); err != nil || len(mine) != 0 {
			t.Fatalf("organizer's mine = %v (%v), want none (sold or not, issued tickets are the event's)", mine, err)
		}
		before := len(updates(outboxEvents(t, db)))

		for range 2 {
			if err := s.CancelEvent(ctx, ev.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got := eventTickets(t, db, ev.ID); got[StatusWithdrawn] != 7 || got[StatusVoid] != 1 {
			t.Fatalf("tickets = %v, want 7 withdrawn and 1 void", got)
		}
		if n := len(updates(outboxEvents(t, db))) - before; n != 8 {
			t.Fatalf("ticket.updated = %d, want one per ticket (8)", n)
		}
		got, _ = s.Get(ctx, held)
		if got.CodeVersion != 2 || got.HolderID != "buyer" {
			t.Errorf("void ticket = %+v, want code version 2", got)
		}
		got, _ = s.Get(ctx, reserved)
		if got.OrderID != "o-res" || got.Status != StatusWithdrawn {
			t.Errorf("reserved ticket = %+v, want withdrawn with its order", got)
		}
		// Orders cancels o-res: nothing to release. o-late was paid in
		// time: its buyer holds a void ticket (refund pending).
		if err := s.release(ctx, reserved, "o-res"); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, paidLate, "o-late", "late-buyer"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, paidLate)
		if got.Status != StatusVoid || got.HolderID != "late-buyer" || got.CodeVersion != 2 {
			t.Errorf("ticket paid as its event was cancelled = %+v, want void", got)
		}
		// A reservation that comes now is refused as event_cancelled.
		tk, _ := s.Get(ctx, fresh)
		if err := s.reserve(ctx, fresh, reservation("o-new", tk)); err != nil {
			t.Fatal(err)
		}
		if r := refusals(outboxEvents(t, db), fresh); len(r) != 1 || r[0].Reason != events.CancelledByEventCancelled {
			t.Errorf("refusals = %+v, want event_cancelled", r)
		}
	}, migs...)
}

// TestCancelBeforeCreated: an event.cancelled that overtakes its
// event.created leaves nothing to issue.
func TestCancelBeforeCreated(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 3, time.Now)
		if err := s.CancelEvent(ctx, "ev-early"); err != nil {
			t.Fatal(err)
		}
		if err := s.Issue(ctx, show("ev-early", 5)); err != nil {
			t.Fatal(err)
		}
		if got := eventTickets(t, db, "ev-early"); len(got) != 0 {
			t.Fatalf("tickets = %v, want none", got)
		}
	}, migs...)
}

// TestEventListeners: through the bus, event.created delivered twice
// issues the event's tickets once; an event.cancelled that comes before
// its event.created leaves nothing issued; one after takes them off sale.
func TestEventListeners(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		kept, early := show("ev-kept", 30), show("ev-early", 30)
		h.publish(events.EventCancelled{EventState: early})
		natsbustest.Eventually(t, 15*time.Second, "the early cancellation recorded", func() bool {
			var n int
			_ = db.Read().QueryRow(`SELECT count(*) FROM event_stock WHERE event_id = 'ev-early'`).Scan(&n)
			return n == 1
		})
		h.publish(events.EventCreated{EventState: kept}, events.EventCreated{EventState: early}, events.EventCreated{EventState: kept})
		natsbustest.Eventually(t, 15*time.Second, "ev-kept issued", func() bool {
			var issued int
			_ = db.Read().QueryRow(`SELECT issued FROM event_stock WHERE event_id = 'ev-kept'`).Scan(&issued)
			return issued == 30
		})
		h.publish(events.EventCancelled{EventState: kept}, events.EventCancelled{EventState: kept})
		natsbustest.Eventually(t, 15*time.Second, "ev-kept withdrawn", func() bool {
			return eventTickets(t, db, "ev-kept")[StatusWithdrawn] == 30
		})
		natsbustest.Eventually(t, 15*time.Second, "event.* acked", func() bool {
			for _, subj := range []events.Subject{events.SubjectEventCreated, events.SubjectEventCancelled} {
				info := h.consumerInfo(subj)
				if info.NumPending > 0 || info.NumAckPending > 0 || info.AckFloor.Stream < h.lastSeq(subj) {
					return false
				}
			}
			return true
		})
		if got := eventTickets(t, db, "ev-kept"); got[StatusWithdrawn] != 30 || len(got) != 1 {
			t.Errorf("ev-kept = %v, want 30 withdrawn", got)
		}
		if got := eventTickets(t, db, "ev-early"); len(got) != 0 {
			t.Errorf("ev-early = %v, want nothing issued", got)
		}
		var created int
		_ = db.Read().QueryRow(`SELECT count(*) FROM tickets WHERE event_id IS NOT NULL`).Scan(&created)
		if created != 30 {
			t.Errorf("issued tickets = %d, want 30", created)
		}
	}, migs...)
}

// TestIssueStopsBeforeItsDeadline: a handler whose time is nearly up
// stops between chunks, and the next delivery goes on.
func TestIssueStopsBeforeItsDeadline(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := chunked(t, db, 2, time.Now)
		ctx, cancel := context.WithTimeout(context.Background(), chunkMargin/2)
		defer cancel()
		err := s.onEventCreated(ctx, events.EventCreated{EventState: show("ev-late", 5)})
		var early interface{ EarlyMessage() bool }
		if !errors.Is(err, errUnfinished) || !errors.As(err, &early) {
			t.Fatalf("issue near its deadline = %v, want an early errUnfinished", err)
		}
		if err := s.onEventCreated(context.Background(), events.EventCreated{EventState: show("ev-late", 5)}); err != nil {
			t.Fatal(err)
		}
		if got := eventTickets(t, db, "ev-late"); got[StatusOnSale] != 5 {
			t.Fatalf("tickets = %v, want 5", got)
		}
	}, migs...)
}

// TestRepriceStock: an event.updated gives the event's unsold stock its
// new face value and on-sale time, each with a ticket.updated; held and
// reserved tickets keep theirs; a redelivery changes nothing, and an
// older version delivered after a newer one does not undo it.
func TestRepriceStock(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := chunked(t, db, 2, time.Now)
		ev := show("ev-price", 5)
		if err := s.onEventCreated(ctx, events.EventCreated{EventState: ev}); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range createdEvents(outboxEvents(t, db)) {
			ids = append(ids, c.ID)
		}
		held, reserved := ids[0], ids[1]
		for _, r := range []struct{ ticket, order string }{{held, "o-held"}, {reserved, "o-res"}} {
			tk, _ := s.Get(ctx, r.ticket)
			if err := s.reserve(ctx, r.ticket, reservation(r.order, tk)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.sell(ctx, held, "o-held", "buyer"); err != nil {
			t.Fatal(err)
		}
		before := len(updates(outboxEvents(t, db)))

		v1 := ev
		v1.Version, v1.FaceValue, v1.OnSaleAt = 1, 3900, onSale.Add(24*time.Hour)
		for range 2 { // the second is a redelivery
			if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: v1}); err != nil {
				t.Fatal(err)
			}
		}
		ups := updates(outboxEvents(t, db))[before:]
		if len(ups) != 3 {
			t.Fatalf("%d ticket.updated, want one per unsold ticket (3)", len(ups))
		}
		for _, u := range ups {
			if u.Price != 3900 || !u.OnSaleAt.Equal(v1.OnSaleAt) || u.Version != 1 || u.ID == held || u.ID == reserved {
				t.Errorf("ticket.updated %+v, want an unsold ticket at 39.00 from %v, version 1", u, v1.OnSaleAt)
			}
		}
		for _, id := range ids[2:] {
			tk, _ := s.Get(ctx, id)
			if tk.Price != 3900 || !tk.OnSaleAt.Equal(v1.OnSaleAt) || tk.EditedVersion != 1 {
				t.Errorf("unsold %s = %+v, want repriced", id, tk)
			}
		}
		for _, id := range []string{held, reserved} {
			if tk, _ := s.Get(ctx, id); tk.Price != 4500 || !tk.OnSaleAt.Equal(onSale) {
				t.Errorf("%s = %+v, want its old price and on-sale time", id, tk)
			}
		}
		// An order of the old offer is refused: the price changed.
		if tk, _ := s.Get(ctx, ids[2]); tk.Version != 1 {
			t.Fatalf("version %d", tk.Version)
		}
		v0 := Reservation{OrderID: "o-stale", Version: new(int64), Price: 4500}
		if err := s.reserve(ctx, ids[2], v0); err != nil {
			t.Fatal(err)
		}
		if r := refusals(outboxEvents(t, db), ids[2]); len(r) != 1 || r[0].Reason != events.RefusedPriceChange {
			t.Errorf("an order of the old price: refusals %+v, want price_change", r)
		}

		v2 := v1
		v2.Version, v2.FaceValue = 2, 5000
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: v2}); err != nil {
			t.Fatal(err)
		}
		n := len(updates(outboxEvents(t, db)))
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: v1}); err != nil { // late
			t.Fatal(err)
		}
		if got := len(updates(outboxEvents(t, db))); got != n {
			t.Errorf("a late v1 published %d ticket.updated", got-n)
		}
		if tk, _ := s.Get(ctx, ids[4]); tk.Price != 5000 {
			t.Errorf("after v2 and a late v1: price %v, want 50.00", tk.Price)
		}
	}, migs...)
}

package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

const waitFor = 15 * time.Second

// call is one delivery a listener handled.
type call struct {
	subject string
	data    string
	err     error
}

// spy records every delivery the service's listeners handle, so a test can
// wait for "v2 was refused once" instead of sleeping.
type spy struct {
	mu    sync.Mutex
	calls []call
}

func (s *spy) wrap(ls []natsbus.Listener) []natsbus.Listener {
	out := make([]natsbus.Listener, len(ls))
	for i, l := range ls {
		out[i] = natsbus.Listener{Subject: l.Subject, Handle: func(ctx context.Context, data []byte) error {
			err := l.Handle(ctx, data)
			s.mu.Lock()
			s.calls = append(s.calls, call{subject: l.Subject, data: string(data), err: err})
			s.mu.Unlock()
			return err
		}}
	}
	return out
}

// count counts the handled deliveries of ev that succeeded (ok) or failed.
func (s *spy) count(tb testing.TB, ev events.Event, ok bool) int {
	tb.Helper()
	data := mustJSON(tb, ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.subject == ev.Subject() && c.data == data && (c.err == nil) == ok {
			n++
		}
	}
	return n
}

// successes lists the events on subject handled successfully, in order.
func (s *spy) successes(subject string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c.subject == subject && c.err == nil {
			out = append(out, c.data)
		}
	}
	return out
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// publish stores evs on the bus in one batch, each under a new message id
// (so a repeated event is a real second delivery, not a dropped duplicate).
func publish(tb testing.TB, bus *natsbus.Bus, evs ...events.Event) {
	tb.Helper()
	msgs := make([]natsbus.Outgoing, len(evs))
	for i, ev := range evs {
		msgs[i] = natsbus.Outgoing{ID: uuid.NewString(), Subject: ev.Subject(), Data: []byte(mustJSON(tb, ev))}
	}
	for i, err := range bus.PublishBatch(context.Background(), msgs) {
		if err != nil {
			tb.Fatalf("publish %s: %v", msgs[i].Subject, err)
		}
	}
}

// listening starts the service's listeners on a new embedded bus, with a
// short redelivery delay so out-of-order events settle quickly.
func listening(t *testing.T, f *fixture) (*natsbus.Bus, *spy) {
	t.Helper()
	bus := natsbustest.Embedded(t)
	sp := &spy{}
	l, err := bus.Listen(context.Background(), "orders", sp.wrap(f.svc.Listeners()), natsbus.ListenConfig{
		Backoff: func(uint64) time.Duration { return 20 * time.Millisecond },
		// Two deliveries for an ordinary failure: an early event that is
		// refused more often survives only as natsbus.Early.
		MaxDeliver: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return bus, sp
}

// replica reads the ticket replica row (version -1 when missing).
func replica(tb testing.TB, db *sqldb.DB, id string) (title string, price, version int64) {
	tb.Helper()
	err := db.Read().QueryRow(`SELECT title, price, version FROM tickets WHERE id = $1`, id).Scan(&title, &price, &version)
	if errors.Is(sqldb.Err(err), sqldb.ErrNotFound) {
		return "", 0, -1
	}
	if err != nil {
		tb.Fatal(err)
	}
	return title, price, version
}

func hasReplica(tb testing.TB, db *sqldb.DB, id, title string, price, version int64) func() bool {
	return func() bool {
		t, p, v := replica(tb, db, id)
		return t == title && p == price && v == version
	}
}

func ticketEvents(id string) (events.TicketCreated, events.TicketUpdated, events.TicketUpdated) {
	return events.TicketCreated{ID: id, Version: 0, Title: "v0", Price: 1000, UserID: "seller"},
		events.TicketUpdated{ID: id, Version: 1, Title: "v1", Price: 1100, UserID: "seller", OrderID: "o1"},
		events.TicketUpdated{ID: id, Version: 2, Title: "v2", Price: 1200, UserID: "seller"}
}

func TestTicketUpdatedInOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		bus, _ := listening(t, f)
		c, v1, v2 := ticketEvents("t1")
		// created and updated go to different consumers: v1 may well be
		// handled before the ticket exists, and must wait for it.
		publish(t, bus, c, v1, v2)
		natsbustest.Eventually(t, waitFor, "replica at v2", hasReplica(t, db, "t1", "v2", 1200, 2))
	}, migs...)
}

func TestTicketUpdatedOutOfOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		c, v1, v2 := ticketEvents("t1")
		publish(t, bus, c)
		natsbustest.Eventually(t, waitFor, "replica at v0", hasReplica(t, db, "t1", "v0", 1000, 0))

		publish(t, bus, v2)
		natsbustest.Eventually(t, waitFor, "v2 refused twice", func() bool { return sp.count(t, v2, false) >= 2 })
		if _, _, v := replica(t, db, "t1"); v != 0 {
			t.Fatalf("v2 applied on top of v0: replica at version %d", v)
		}

		publish(t, bus, v1)
		natsbustest.Eventually(t, waitFor, "replica at v2", hasReplica(t, db, "t1", "v2", 1200, 2))
		// The replica shows v2 once its transaction commits, a moment
		// before its handler returns and the spy records it.
		natsbustest.Eventually(t, waitFor, "v2 handled", func() bool { return sp.count(t, v2, true) >= 1 })
		// Each applied once. Their order is the replica's, checked above
		// (v2 refused on top of v0, the replica at v2 at the end): on
		// SQLite the two can commit in one group commit, v2's function
		// seeing v1's write in the shared transaction, and then their
		// handlers return, and the spy records them, in either order.
		got := sp.successes(events.SubjectTicketUpdated)
		slices.Sort(got)
		want := []string{mustJSON(t, v1), mustJSON(t, v2)}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("applied updates = %v, want v1 and v2 once each", got)
		}
	}, migs...)
}

func TestTicketUpdatedDuplicate(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		c, v1, v2 := ticketEvents("t1")
		publish(t, bus, c, c)
		natsbustest.Eventually(t, waitFor, "ticket.created handled twice", func() bool { return sp.count(t, c, true) == 2 })
		if title, _, v := replica(t, db, "t1"); title != "v0" || v != 0 {
			t.Fatalf("replica after duplicate create = %s v%d", title, v)
		}

		publish(t, bus, v1, v1)
		natsbustest.Eventually(t, waitFor, "v1 acked twice", func() bool { return sp.count(t, v1, true) == 2 })
		if title, _, v := replica(t, db, "t1"); title != "v1" || v != 1 {
			t.Fatalf("replica after duplicate v1 = %s v%d, want v1 version 1", title, v)
		}

		// A late copy of v1 after v2 must not roll the replica back.
		publish(t, bus, v2)
		natsbustest.Eventually(t, waitFor, "replica at v2", hasReplica(t, db, "t1", "v2", 1200, 2))
		publish(t, bus, v1)
		natsbustest.Eventually(t, waitFor, "late v1 acked", func() bool { return sp.count(t, v1, true) == 3 })
		if title, _, v := replica(t, db, "t1"); title != "v2" || v != 2 {
			t.Fatalf("replica after late v1 = %s v%d, want v2 version 2", title, v)
		}
	}, migs...)
}

func TestExpirationComplete(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		f.addTicket(t, "t1", "Show", 1000)
		f.addTicket(t, "t2", "Show", 1000)
		o, err := f.svc.Reserve(ctx, "alice", "t1", "")
		if err != nil {
			t.Fatal(err)
		}

		t.Run("twice cancels once", func(t *testing.T) {
			ev := events.ExpirationComplete{OrderID: o.ID}
			publish(t, bus, ev, ev)
			natsbustest.Eventually(t, waitFor, "both deliveries acked", func() bool { return sp.count(t, ev, true) == 2 })
			got, err := f.svc.Order(ctx, "alice", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != orders.StatusCancelled || got.Version != 1 {
				t.Errorf("order = %s v%d, want cancelled v1", got.Status, got.Version)
			}
			payloads := outboxPayloads(t, db, events.SubjectOrderCancelled)
			want := mustJSON(t, events.OrderCancelled{ID: o.ID, Version: 1, Ticket: events.OrderTicket{ID: "t1"}, CancelledBy: events.CancelledByExpiry})
			if len(payloads) != 1 || payloads[0] != want {
				t.Errorf("order.cancelled events = %v, want one %s", payloads, want)
			}
		})

		t.Run("complete order is left alone", func(t *testing.T) {
			paid, err := f.svc.Reserve(ctx, "alice", "t2", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.Exec(`UPDATE orders SET status = 'complete', version = 1 WHERE id = $1`, paid.ID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			before := outboxCount(t, db, events.SubjectOrderCancelled)
			ev := events.ExpirationComplete{OrderID: paid.ID}
			publish(t, bus, ev)
			natsbustest.Eventually(t, waitFor, "acked", func() bool { return sp.count(t, ev, true) == 1 })
			got, err := f.svc.Order(ctx, "alice", paid.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != orders.StatusComplete || got.Version != 1 {
				t.Errorf("order = %s v%d, want complete v1", got.Status, got.Version)
			}
			if n := outboxCount(t, db, events.SubjectOrderCancelled); n != before {
				t.Errorf("order.cancelled events %d → %d, want none new", before, n)
			}
		})

		t.Run("unknown order is terminated", func(t *testing.T) {
			ev := events.ExpirationComplete{OrderID: "no-such-order"}
			publish(t, bus, ev)
			cons, err := bus.JetStream().Consumer(ctx, events.Stream, natsbus.DurableName("orders", events.SubjectExpirationComplete))
			if err != nil {
				t.Fatal(err)
			}
			// Terminated, not nak'ed: nothing is left pending redelivery.
			natsbustest.Eventually(t, waitFor, "message settled", func() bool {
				info, err := cons.Info(ctx)
				return err == nil && sp.count(t, ev, false) == 1 && info.NumAckPending == 0 && info.NumPending == 0
			})
			if n := sp.count(t, ev, false); n != 1 {
				t.Errorf("unknown order delivered %d times, want 1", n)
			}
		})
	}, migs...)
}

// TestMalformedTicketIDRefused: a ticket event whose id is not an id
// (ids.Valid) is refused the same way on every engine, never stored
// (SQLite would take "a.b"; PostgreSQL refuses a NUL with an error).
func TestMalformedTicketIDRefused(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, orders.Config{})
		bus, sp := listening(t, f)
		var bad []events.Event
		for _, id := range []string{"a.b", "a\x00b", "a b", "é", string(make([]byte, 65))} {
			bad = append(bad, events.TicketCreated{ID: id, Title: "x", Price: 100, UserID: "seller"},
				events.TicketUpdated{ID: id, Version: 1, Title: "x", Price: 100, UserID: "seller"})
		}
		publish(t, bus, bad...)
		good, _, _ := ticketEvents("t1")
		publish(t, bus, good)
		natsbustest.Eventually(t, waitFor, "good ticket in the replica", hasReplica(t, db, "t1", "v0", 1000, 0))
		for _, ev := range bad {
			natsbustest.Eventually(t, waitFor, "bad event refused", func() bool { return sp.count(t, ev, false) >= 1 })
			if n := sp.count(t, ev, true); n != 0 {
				t.Errorf("%s %s accepted %d times", ev.Subject(), mustJSON(t, ev), n)
			}
		}
		var n int
		if err := db.Read().QueryRow(`SELECT count(*) FROM tickets`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d replica rows (%v), want 1", n, err)
		}
	}, migs...)
}

package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// harness runs the service as the wiring does: its listeners on durable
// consumers of a real embedded JetStream, its outbox relayed to the same
// stream, and a test consumer recording every ticket.updated on the stream.
type harness struct {
	t   *testing.T
	bus *natsbus.Bus
	db  *sqldb.DB
	ob  *outbox.Outbox
	s   *Service

	created int64 // ticket.created events this harness caused

	mu      sync.Mutex
	seen    []events.TicketUpdated
	refused []events.TicketReservationRefused
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	bus := natsbustest.Embedded(t)
	log := natsbustest.Logger(t)
	ob := outbox.New(db, bus, log, outbox.Config{})
	h := &harness{t: t, bus: bus, db: db, ob: ob, s: New(db, ob, log, Config{})}

	ctx, cancel := context.WithCancel(context.Background())
	relayed := make(chan struct{})
	go func() { ob.Run(ctx); close(relayed) }()
	// A short constant backoff keeps the redelivery scenarios quick.
	listening, err := bus.Listen(ctx, Name, h.s.Listeners(), natsbus.ListenConfig{
		Backoff: func(uint64) time.Duration { return 20 * time.Millisecond },
		// Two deliveries for an ordinary failure: an early event that is
		// refused more often survives only as natsbus.Early.
		MaxDeliver: 2,
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cons, err := bus.JetStream().OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectTicketUpdated, events.SubjectTicketReservationRefused},
	})
	if err != nil {
		t.Fatalf("test consumer: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if m.Subject() == events.SubjectTicketReservationRefused {
			var ev events.TicketReservationRefused
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Errorf("decode ticket.reservation_refused: %v", err)
			}
			h.refused = append(h.refused, ev)
			return
		}
		var ev events.TicketUpdated
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Errorf("decode ticket.updated: %v", err)
		}
		h.seen = append(h.seen, ev)
	})
	if err != nil {
		t.Fatalf("test consume: %v", err)
	}
	t.Cleanup(func() {
		cc.Stop()
		listening.Stop()
		cancel()
		<-relayed
	})
	return h
}

func (h *harness) createTicket() Ticket {
	h.t.Helper()
	h.created++
	return mustCreate(h.t, h.s, seller.ID, "show", 1000)
}

// publish puts the events on the stream in order, each with a new message
// id: a second copy of an event is then a genuine redelivery, as when an ack
// was lost, not something the stream's duplicate window drops.
func (h *harness) publish(evs ...events.Event) {
	h.t.Helper()
	msgs := make([]natsbus.Outgoing, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			h.t.Fatal(err)
		}
		msgs[i] = natsbus.Outgoing{ID: uuid.Must(uuid.NewV7()).String(), Subject: string(ev.Subject()), Data: data}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, err := range h.bus.PublishBatch(ctx, msgs) {
		if err != nil {
			h.t.Fatalf("publish %s: %v", msgs[i].Subject, err)
		}
	}
}

func (h *harness) consumerInfo(subject events.Subject) *jetstream.ConsumerInfo {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := h.bus.JetStream().Consumer(ctx, events.Stream, natsbus.DurableName(Name, subject))
	if err != nil {
		h.t.Fatalf("consumer %s: %v", subject, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		h.t.Fatalf("consumer info %s: %v", subject, err)
	}
	return info
}

// lastSeq is the stream sequence of the last message on subject, 0 if none.
func (h *harness) lastSeq(subject events.Subject) uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := h.bus.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		h.t.Fatalf("stream: %v", err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0
	}
	if err != nil {
		h.t.Fatalf("last message on %s: %v", subject, err)
	}
	return m.Sequence
}

// settle waits until everything published has been handled and acked,
// every event the service wrote has left its outbox, and the test consumer
// has seen all of them; then it returns the ticket.updated events seen
// (refusals returns the ticket.reservation_refused ones).
func (h *harness) settle() []events.TicketUpdated {
	h.t.Helper()
	natsbustest.Eventually(h.t, 15*time.Second, "listeners, outbox and test consumer to settle", func() bool {
		for _, subj := range []events.Subject{events.SubjectOrderCreated, events.SubjectOrderCancelled, events.SubjectOrderCompleted} {
			// The ack floor, not only the pending counts: right after a
			// publish the server may report neither pending nor in flight.
			info := h.consumerInfo(subj)
			if info.NumPending > 0 || info.NumAckPending > 0 || info.AckFloor.Stream < h.lastSeq(subj) {
				return false
			}
		}
		var rows int
		if err := h.db.Read().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&rows); err != nil {
			h.t.Fatal(err)
		}
		h.mu.Lock()
		seen := int64(len(h.seen) + len(h.refused))
		h.mu.Unlock()
		return rows == 0 && h.ob.Published() == h.created+seen
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return slicesClone(h.seen)
}

// refusals returns the ticket.reservation_refused events seen so far; call
// it after settle.
func (h *harness) refusals() []events.TicketReservationRefused {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slicesClone(h.refused)
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

func (h *harness) ticket(id string) Ticket {
	h.t.Helper()
	tk, err := h.s.Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tk
}

// created is the order.created of an order that reserved version v of a
// ticket at 1000 cents (the price createTicket lists at).
func created(orderID, ticketID string, v int64) events.OrderCreated {
	return events.OrderCreated{ID: orderID, Version: 0, Status: events.StatusCreated, UserID: "buyer",
		ExpiresAt: time.Now().Add(15 * time.Minute).UTC(), Ticket: events.OrderTicket{ID: ticketID, Price: 1000, Version: &v}}
}

func cancelled(orderID, ticketID string) events.OrderCancelled {
	return events.OrderCancelled{ID: orderID, Version: 1, Ticket: events.OrderTicket{ID: ticketID}}
}

// want describes a ticket.updated by the fields that matter here.
type want struct {
	version int64
	orderID string
}

func check(t *testing.T, got []events.TicketUpdated, tk Ticket, wants ...want) {
	t.Helper()
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(got); i++ {
		g := got[i]
		ok = g.ID == tk.ID && g.Version == wants[i].version && g.OrderID == wants[i].orderID &&
			g.Title == tk.Title && g.Price == int64(tk.Price) && g.UserID == tk.UserID
	}
	if !ok {
		t.Fatalf("ticket.updated events:\n got %+v\nwant %+v", got, wants)
	}
}

func TestListeners(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			open := func(t *testing.T) *harness { return newHarness(t, sqldbtest.Open(t, engine, migs...)) }

			t.Run("in order", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				h.publish(created("A", tk.ID, 0))
				check(t, h.settle(), tk, want{1, "A"})
				if got := h.ticket(tk.ID); got.OrderID != "A" || got.Version != 1 {
					t.Fatalf("after order.created: %+v", got)
				}
				h.publish(cancelled("A", tk.ID))
				check(t, h.settle(), tk, want{1, "A"}, want{2, ""})
				if got := h.ticket(tk.ID); got.OrderID != "" || got.Version != 2 {
					t.Fatalf("after order.cancelled: %+v", got)
				}
			})

			t.Run("completed, before its order.created and twice", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				done := events.OrderCompleted{ID: "A", Version: 1, UserID: "buyer", Ticket: events.OrderTicket{ID: tk.ID}}
				// The completion overtakes the creation: it waits for it,
				// past the two deliveries an ordinary failure gets here.
				h.publish(done)
				natsbustest.Eventually(t, 15*time.Second, "order.completed redelivered while it waits", func() bool {
					return h.consumerInfo(events.SubjectOrderCompleted).Delivered.Consumer >= 3
				})
				h.publish(created("A", tk.ID, 0), done)
				got := h.settle()
				check(t, got, tk, want{1, "A"}, want{2, "A"})
				if got[0].Status != events.TicketReserved || got[1].Status != events.TicketSold {
					t.Fatalf("statuses %q then %q, want reserved then sold", got[0].Status, got[1].Status)
				}
				if tkt := h.ticket(tk.ID); tkt.Status != StatusSold || tkt.Version != 2 {
					t.Fatalf("after order.completed: %+v", tkt)
				}
			})

			t.Run("duplicated", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				h.publish(created("A", tk.ID, 0), created("A", tk.ID, 0))
				check(t, h.settle(), tk, want{1, "A"})
				// Both cancellations, then order.created once more (its ack
				// was lost): the ticket must not be held for a dead order.
				h.publish(cancelled("A", tk.ID), cancelled("A", tk.ID))
				check(t, h.settle(), tk, want{1, "A"}, want{2, ""})
				h.publish(created("A", tk.ID, 0))
				check(t, h.settle(), tk, want{1, "A"}, want{2, ""})
				if got := h.ticket(tk.ID); got.OrderID != "" || got.Version != 2 {
					t.Fatalf("after duplicates: %+v", got)
				}
			})

			t.Run("next order overtakes the cancellation of the previous", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				h.publish(created("A", tk.ID, 0))
				check(t, h.settle(), tk, want{1, "A"})

				// B's creation arrives while A still holds the ticket: it
				// is nak'ed and comes back, and leaves the ticket alone.
				h.publish(created("B", tk.ID, 1))
				natsbustest.Eventually(t, 15*time.Second, "order.created B to be redelivered", func() bool {
					return h.consumerInfo(events.SubjectOrderCreated).NumRedelivered > 0
				})
				if got := h.ticket(tk.ID); got.OrderID != "A" || got.Version != 1 {
					t.Fatalf("B took the ticket from A: %+v", got)
				}
				// A's cancellation frees it, and B's redelivery takes it.
				h.publish(cancelled("A", tk.ID))
				check(t, h.settle(), tk, want{1, "A"}, want{2, ""}, want{3, "B"})
				if got := h.ticket(tk.ID); got.OrderID != "B" || got.Version != 3 {
					t.Fatalf("final: %+v", got)
				}
				// A late copy of A's cancellation does not free B's ticket.
				h.publish(cancelled("A", tk.ID))
				check(t, h.settle(), tk, want{1, "A"}, want{2, ""}, want{3, "B"})
				if got := h.ticket(tk.ID); got.OrderID != "B" || got.Version != 3 {
					t.Fatalf("after late cancellation: %+v", got)
				}
			})

			t.Run("edit lands before the reservation", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				edited, err := h.s.Update(context.Background(), seller.ID, tk.ID, Fields{Title: tk.Title, Price: 2000})
				if err != nil {
					t.Fatal(err)
				}
				// The order reserved v0 at 1000: refused, once, however
				// often it is delivered; the ticket stays on sale at 2000.
				h.publish(created("A", tk.ID, 0), created("A", tk.ID, 0))
				check(t, h.settle(), edited, want{1, ""})
				h.publish(created("A", tk.ID, 0))
				check(t, h.settle(), edited, want{1, ""})
				wantRefused := []events.TicketReservationRefused{{TicketID: tk.ID, OrderID: "A", Reason: events.RefusedPriceChange}}
				if got := h.refusals(); !reflect.DeepEqual(got, wantRefused) {
					t.Fatalf("refusals %+v, want %+v", got, wantRefused)
				}
				// The order's cancellation that follows changes nothing.
				h.publish(cancelled("A", tk.ID))
				check(t, h.settle(), edited, want{1, ""})
				if got := h.ticket(tk.ID); got.OrderID != "" || got.Version != 1 || got.Price != 2000 {
					t.Fatalf("ticket after a refused reservation: %+v", got)
				}
				// An order that saw the edit gets the ticket.
				ev := created("B", tk.ID, 1)
				ev.Ticket.Price = 2000
				h.publish(ev)
				check(t, h.settle(), edited, want{1, ""}, want{2, "B"})
				if got := h.refusals(); len(got) != 1 {
					t.Fatalf("refusals %+v, want still one", got)
				}
			})

			t.Run("stale reservation of a ticket another order holds is refused, not early", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				edited, err := h.s.Update(context.Background(), seller.ID, tk.ID, Fields{Title: "new title", Price: 1000})
				if err != nil {
					t.Fatal(err)
				}
				h.publish(created("A", tk.ID, 1))
				check(t, h.settle(), edited, want{1, ""}, want{2, "A"})
				// B reserved v0, before the edit: whoever holds the ticket,
				// B can never have what it saw, so it gets its answer now.
				h.publish(created("B", tk.ID, 0))
				check(t, h.settle(), edited, want{1, ""}, want{2, "A"})
				wantRefused := []events.TicketReservationRefused{{TicketID: tk.ID, OrderID: "B", Reason: events.RefusedTicketChanged}}
				if got := h.refusals(); !reflect.DeepEqual(got, wantRefused) {
					t.Fatalf("refusals %+v, want %+v", got, wantRefused)
				}
				if n := h.consumerInfo(events.SubjectOrderCreated).NumRedelivered; n != 0 {
					t.Fatalf("%d order.created redelivered, want none", n)
				}
			})

			t.Run("cancellation before creation of the same order", func(t *testing.T) {
				h := open(t)
				tk := h.createTicket()
				h.publish(cancelled("A", tk.ID))
				check(t, h.settle(), tk)
				h.publish(created("A", tk.ID, 0))
				check(t, h.settle(), tk)
				if got := h.ticket(tk.ID); got.OrderID != "" || got.Version != 0 {
					t.Fatalf("ticket held by a cancelled order: %+v", got)
				}
			})
		})
	}
}

// TestListenerOutcomes checks what each handler tells the bus (ack,
// redeliver, terminate) and what it publishes: a refused reservation one
// ticket.reservation_refused, once; anything else nothing.
func TestListenerOutcomes(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		const (
			ack = iota
			redeliver
			terminate
		)
		held := mustCreate(t, s, seller.ID, "held", 1000)
		if err := s.reserve(ctx, held.ID, reservation("A", held)); err != nil {
			t.Fatal(err)
		}
		free := mustCreate(t, s, seller.ID, "free", 1000)
		edited := mustCreate(t, s, seller.ID, "edited", 1000)
		if _, err := s.Update(ctx, seller.ID, edited.ID, Fields{Title: "edited", Price: 1500}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			handle  func() error
			want    int
			publish int // events written
		}{
			{"created: unknown ticket is refused", func() error { return s.onOrderCreated(ctx, created("B", "no-such-ticket", 0)) }, ack, 1},
			{"created: unknown ticket again publishes nothing", func() error { return s.onOrderCreated(ctx, created("B", "no-such-ticket", 0)) }, ack, 0},
			{"created: edited since is refused", func() error { return s.onOrderCreated(ctx, created("C", edited.ID, 0)) }, ack, 1},
			{"created: edited since, again, publishes nothing", func() error { return s.onOrderCreated(ctx, created("C", edited.ID, 0)) }, ack, 0},
			{"created: held by another order", func() error { return s.onOrderCreated(ctx, created("D", held.ID, 1)) }, redeliver, 0},
			{"created: already held by this order", func() error { return s.onOrderCreated(ctx, created("A", held.ID, 0)) }, ack, 0},
			{"created: no ticket id", func() error { return s.onOrderCreated(ctx, created("B", "", 0)) }, terminate, 0},
			{"created: junk order id", func() error { return s.onOrderCreated(ctx, created("B\x00", free.ID, 0)) }, terminate, 0},
			{"cancelled: unknown ticket", func() error { return s.onOrderCancelled(ctx, cancelled("B", "no-such-ticket")) }, ack, 0},
			{"cancelled: another order's ticket", func() error { return s.onOrderCancelled(ctx, cancelled("B", held.ID)) }, ack, 0},
			{"cancelled: free ticket", func() error { return s.onOrderCancelled(ctx, cancelled("C", free.ID)) }, ack, 0},
			{"cancelled: no order id", func() error { return s.onOrderCancelled(ctx, cancelled("", free.ID)) }, terminate, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(outboxEvents(t, db))
				err := tt.handle()
				got := ack
				switch {
				case natsbus.IsPermanent(err):
					got = terminate
				case err != nil:
					got = redeliver
				}
				if got != tt.want {
					t.Fatalf("outcome %d (err %v), want %d", got, err, tt.want)
				}
				if after := len(outboxEvents(t, db)); after-before != tt.publish {
					t.Fatalf("published %d events, want %d", after-before, tt.publish)
				}
			})
		}
		if got, _ := s.Get(ctx, held.ID); got.OrderID != "A" || got.Version != 1 {
			t.Fatalf("held ticket changed: %+v", got)
		}
		if got, _ := s.Get(ctx, free.ID); got.OrderID != "" || got.Version != 0 {
			t.Fatalf("free ticket changed: %+v", got)
		}
		if got, _ := s.Get(ctx, edited.ID); got.OrderID != "" || got.Version != 1 {
			t.Fatalf("edited ticket changed: %+v", got)
		}
		wantRefused := []events.TicketReservationRefused{{TicketID: "no-such-ticket", OrderID: "B", Reason: events.RefusedNotAvailable}}
		if got := refusals(outboxEvents(t, db), "no-such-ticket"); !reflect.DeepEqual(got, wantRefused) {
			t.Fatalf("refusals %+v, want %+v", got, wantRefused)
		}
	}, migs...)
}

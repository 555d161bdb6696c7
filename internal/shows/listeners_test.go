package shows

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
	"strings"
)

func left(t *testing.T, s *Service, id string) int64 {
	t.Helper()
	return counts(t, s, id).TicketsLeft
}

// counts returns the event with its tickets left and issued.
func counts(t *testing.T, s *Service, id string) Event {
	t.Helper()
	e, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ticketLife is one issued ticket's events: created on sale, reserved,
// released, reserved again, sold (held).
func ticketLife(ticketID, eventID string) []any {
	u := func(v int64, status, order string) events.TicketUpdated {
		return events.TicketUpdated{ID: ticketID, Version: v, Status: status, OrderID: order, EventID: eventID, Price: 2500}
	}
	return []any{
		events.TicketCreated{ID: ticketID, Version: 0, Status: events.TicketOnSale, EventID: eventID, Price: 2500},
		u(1, events.TicketReserved, "o1"),
		u(2, events.TicketOnSale, ""),
		u(3, events.TicketReserved, "o2"),
		u(4, events.TicketHeld, "o2"),
	}
}

func (s *Service) deliver(ctx context.Context, ev any) error {
	switch ev := ev.(type) {
	case events.TicketCreated:
		return s.onTicketCreated(ctx, ev)
	case events.TicketUpdated:
		return s.onTicketUpdated(ctx, ev)
	}
	return fmt.Errorf("unknown %T", ev)
}

func TestTicketsLeftInOrderAndTwice(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 10))
		other := mustCreate(t, s, draft("Rock", "Dome", 10))
		tk := uuid.NewString()
		wants := []int64{1, 0, 1, 0, 0}
		for i, ev := range ticketLife(tk, e.ID) {
			for range 2 { // every event delivered twice
				if err := s.deliver(ctx, ev); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			if got := counts(t, s, e.ID); got.TicketsLeft != wants[i] || got.TicketsIssued != 1 {
				t.Fatalf("after event %d: %d left and %d issued, want %d and 1", i, got.TicketsLeft, got.TicketsIssued, wants[i])
			}
		}
		// A free-form listing counts for no event.
		if err := s.onTicketCreated(ctx, events.TicketCreated{ID: uuid.NewString(), Status: events.TicketOnSale}); err != nil {
			t.Fatal(err)
		}
		if got := left(t, s, other.ID); got != 0 {
			t.Fatalf("the other event has %d left", got)
		}
	}, migs...)
}

func TestTicketsLeftOutOfOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 10))
		life := ticketLife(uuid.NewString(), e.ID)
		// v1 before v0: behind; v2 before v1: behind.
		for _, i := range []int{1, 2} {
			if err := s.deliver(ctx, life[i]); !errors.Is(err, replica.ErrBehind) {
				t.Fatalf("event %d first: %v, want replica.ErrBehind", i, err)
			}
		}
		if got := left(t, s, e.ID); got != 0 {
			t.Fatalf("early events counted: %d", got)
		}
		for i := range 3 {
			if err := s.deliver(ctx, life[i]); err != nil {
				t.Fatal(err)
			}
		}
		if got := left(t, s, e.ID); got != 1 {
			t.Fatalf("after v2 (released): %d, want 1", got)
		}
	}, migs...)
}

// TestTicketsLeftConcurrent delivers the lives of many tickets, each
// event twice, shuffled, from several goroutines at once, retrying what
// is behind, as redeliveries would: the count ends where the tickets do.
func TestTicketsLeftConcurrent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 10))
		const n = 40
		var queue []any
		for i := range n {
			life := ticketLife(uuid.NewString(), e.ID)
			if i%2 == 0 {
				life = life[:3] // ends on sale
			}
			queue = append(queue, life...)
			queue = append(queue, life...)
		}
		rand.Shuffle(len(queue), func(i, j int) { queue[i], queue[j] = queue[j], queue[i] })
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			fail error
		)
		next := func() (any, bool) {
			mu.Lock()
			defer mu.Unlock()
			if len(queue) == 0 || fail != nil {
				return nil, false
			}
			ev := queue[0]
			queue = queue[1:]
			return ev, true
		}
		for range 4 {
			wg.Go(func() {
				for ev, ok := next(); ok; ev, ok = next() {
					err := s.deliver(ctx, ev)
					mu.Lock()
					switch {
					case errors.Is(err, replica.ErrBehind):
						queue = append(queue, ev) // redelivered later
					case err != nil:
						fail = err
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fail != nil {
			t.Fatal(fail)
		}
		if got := counts(t, s, e.ID); got.TicketsLeft != n/2 || got.TicketsIssued != n {
			t.Fatalf("%d left and %d issued, want %d and %d", got.TicketsLeft, got.TicketsIssued, n/2, n)
		}
	}, migs...)
}

// TestMalformedTicketIDRefused: a ticket event whose ticket or event id is
// not an id (ids.Valid) is refused for good the same way on every engine,
// never counted (SQLite would take "a.b"; PostgreSQL refuses a NUL with an
// error, which the bus would redeliver).
func TestMalformedTicketIDRefused(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 10))
		for _, bad := range []string{"a.b", "a\x00b", "a b", "é", "a\xffb", strings.Repeat("x", 65)} {
			good := uuid.NewString()
			for _, ev := range []any{
				events.TicketCreated{ID: bad, Status: events.TicketOnSale, EventID: e.ID, Price: 2500},
				events.TicketCreated{ID: good, Status: events.TicketOnSale, EventID: bad, Price: 2500},
				events.TicketUpdated{ID: bad, Version: 1, Status: events.TicketOnSale, EventID: e.ID, Price: 2500},
				events.TicketUpdated{ID: good, Version: 1, Status: events.TicketOnSale, EventID: bad, Price: 2500},
			} {
				if err := s.deliver(ctx, ev); !natsbus.IsPermanent(err) {
					t.Errorf("%+v: %v, want refused for good", ev, err)
				}
			}
		}
		if got := counts(t, s, e.ID); got.TicketsIssued != 0 || got.TicketsLeft != 0 {
			t.Fatalf("%d issued, %d left after malformed ids, want none", got.TicketsIssued, got.TicketsLeft)
		}
	}, migs...)
}

// TestEditPriceBeforeTheOnSale: the face value and on-sale time may change
// once every ticket is issued (ticket.created counted) and only until the
// sale opens; the event.updated carries them to tickets.
func TestEditPriceBeforeTheOnSale(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, clk := newTestService(t, db)
		d := draft("Jazz", "Paradiso", 10)
		capacity, opens := 3, clocktest.Start.Add(24*time.Hour)
		d.Capacity, d.OnSaleAt = &capacity, &opens
		e := mustCreate(t, s, d)
		price := money.Cents(3900)
		later := opens.Add(time.Hour)
		edit := Draft{FaceValue: &price, OnSaleAt: &later}
		for i := range capacity {
			if _, err := s.Update(ctx, organizer, e.ID, edit); !errors.Is(err, ErrFaceValueLocked) {
				t.Fatalf("with %d of %d tickets issued: %v, want face_value_locked", i, capacity, err)
			}
			err := s.onTicketCreated(ctx, events.TicketCreated{ID: uuid.NewString(), Status: events.TicketOnSale, EventID: e.ID, Price: 2500})
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Update(ctx, organizer, e.ID, edit)
		if err != nil || got.FaceValue != price || !got.OnSaleAt.Equal(later) {
			t.Fatalf("every ticket issued, before the on-sale: %+v %v", got, err)
		}
		pub := outboxEvents(t, db)
		if last := pub[len(pub)-1]; last.Subject != events.SubjectEventUpdated || last.State.FaceValue != 3900 || !last.State.OnSaleAt.Equal(later) {
			t.Fatalf("published %+v", last)
		}
		clk.Advance(later.Sub(clocktest.Start))
		again := money.Cents(4100)
		if _, err := s.Update(ctx, organizer, e.ID, Draft{FaceValue: &again}); !errors.Is(err, ErrFaceValueLocked) {
			t.Fatalf("after the on-sale: %v, want face_value_locked", err)
		}
	}, migs...)
}

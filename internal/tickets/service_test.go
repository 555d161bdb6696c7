package tickets

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestConcurrentUpdates races edits of one ticket on each engine. On
// PostgreSQL they queue on the ticket's row lock; on SQLite the single
// writer serialises them. Either way no edit is lost silently: every edit
// that reports success has its own version and its own ticket.updated, and
// the stored ticket is the last of them.
func TestConcurrentUpdates(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := mustCreate(t, s, seller.ID, "original", 100)

		const n = 8
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.Update(ctx, seller.ID, tk.ID, Fields{Title: fmt.Sprintf("edit %d", i), Price: money.Cents(200 + i)})
			})
		}
		close(start)
		wg.Wait()

		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrChanged):
			default:
				t.Fatalf("edit %d: %v", i, err)
			}
		}
		if won == 0 {
			t.Fatal("no edit succeeded")
		}
		ups := updates(outboxEvents(t, db))
		if len(ups) != won {
			t.Fatalf("%d edits succeeded but %d ticket.updated were written", won, len(ups))
		}
		slices.SortFunc(ups, func(a, b eventUpdated) int { return int(a.Version - b.Version) })
		for i, ev := range ups {
			if ev.Version != int64(i+1) {
				t.Fatalf("ticket.updated versions %+v, want 1..%d", ups, won)
			}
		}
		got, err := s.Get(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := ups[len(ups)-1]
		if got.Version != int64(won) || got.Title != last.Title || int64(got.Price) != last.Price {
			t.Fatalf("stored %+v, want the last event %+v", got, last)
		}
		t.Logf("%s: %d of %d edits won", db.Engine(), won, n)
	}, migs...)
}

// TestEditRacesReservation races a seller's edit with the order.created of
// an order that reserved the ticket as listed: the edit either lands first
// and the reservation is refused (ticket.reservation_refused, the ticket
// stays on sale at its new price), or the reservation lands first and the
// edit is refused. Never a reservation of a price the order was not shown,
// never an edit of a reserved ticket.
func TestEditRacesReservation(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		outcomes := map[string]int{}
		for round := range 10 {
			tk := mustCreate(t, s, seller.ID, "original", 100)
			var editErr, reserveErr error
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				<-start
				_, editErr = s.Update(ctx, seller.ID, tk.ID, Fields{Title: "edited", Price: 300})
			})
			wg.Go(func() {
				<-start
				reserveErr = s.reserve(ctx, tk.ID, reservation("order-"+tk.ID, tk))
			})
			close(start)
			wg.Wait()

			if reserveErr != nil {
				t.Fatalf("round %d: reserve: %v", round, reserveErr)
			}
			got, _ := s.Get(ctx, tk.ID)
			var mine []eventUpdated
			for _, ev := range updates(outboxEvents(t, db)) {
				if ev.ID == tk.ID {
					mine = append(mine, ev)
				}
			}
			refused := refusals(outboxEvents(t, db), tk.ID)
			switch {
			case editErr == nil:
				outcomes["edit first"]++
				// The edit (v1); the reservation of v0 is refused.
				want := []events.TicketReservationRefused{{TicketID: tk.ID, OrderID: "order-" + tk.ID, Reason: events.RefusedPriceChange}}
				if len(mine) != 1 || mine[0].Version != 1 || mine[0].OrderID != "" || mine[0].Price != 300 ||
					got.OrderID != "" || got.Version != 1 || !reflect.DeepEqual(refused, want) {
					t.Fatalf("round %d: edit then reserve gave %+v and refusals %+v, stored %+v", round, mine, refused, got)
				}
			case errors.Is(editErr, ErrReserved), errors.Is(editErr, ErrChanged):
				outcomes["reservation first"]++
				if len(mine) != 1 || mine[0].Version != 1 || mine[0].Title != "original" || mine[0].OrderID != "order-"+tk.ID ||
					got.Title != "original" || got.OrderID != "order-"+tk.ID || len(refused) != 0 {
					t.Fatalf("round %d: refused edit left %+v and refusals %+v, stored %+v", round, mine, refused, got)
				}
			default:
				t.Fatalf("round %d: edit: %v", round, editErr)
			}
		}
		t.Logf("%s: %v", db.Engine(), outcomes)
	}, migs...)
}

// TestReservationRacesCancellation races an order's order.created with its
// own order.cancelled, as after an outage, when both wait on their separate
// consumers and are delivered together. Whichever runs first, the ticket
// must end on sale: a reservation applied after its order's cancellation
// was handled (on PostgreSQL the two transactions interleave) would hold
// the ticket for a dead order for good.
func TestReservationRacesCancellation(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		for round := range 30 {
			tk := mustCreate(t, s, seller.ID, "show", 100)
			order := fmt.Sprintf("order-%d", round)
			start := make(chan struct{})
			var wg sync.WaitGroup
			// A handler's transient error (a lost optimistic race) is
			// redelivered: retry it as the bus would.
			deliver := func(handle func() error) {
				<-start
				for range 5 {
					if err := handle(); err == nil {
						return
					} else if !errors.Is(err, errStale) {
						t.Errorf("round %d: %v", round, err)
						return
					}
				}
				t.Errorf("round %d: still stale after 5 deliveries", round)
			}
			wg.Go(func() {
				deliver(func() error { return s.reserve(ctx, tk.ID, reservation(order, tk)) })
			})
			wg.Go(func() { deliver(func() error { return s.release(ctx, tk.ID, order) }) })
			close(start)
			wg.Wait()
			got, err := s.Get(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.OrderID != "" || got.Status != StatusOnSale {
				t.Fatalf("round %d: the ticket is held by its cancelled order: %+v", round, got)
			}
		}
	}, migs...)
}

package tickets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestConcurrentUpdates races edits of one ticket on each engine. On
// PostgreSQL the edits really interleave (read committed: both read version
// 0, one UPDATE waits for the other and then matches no row); on SQLite the
// single writer serialises them. Either way no edit is lost silently: every
// edit that reports success has its own version and its own ticket.updated,
// and the others report ErrChanged.
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

// TestEditRacesReservation races a seller's edit with order.created: the
// edit must either land before the reservation (and the reservation carry
// the new title) or be refused; never land on a reserved ticket.
func TestEditRacesReservation(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
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
				reserveErr = s.reserve(ctx, tk.ID, "order-x")
			})
			close(start)
			wg.Wait()

			if reserveErr != nil {
				t.Fatalf("round %d: reserve: %v", round, reserveErr)
			}
			got, _ := s.Get(ctx, tk.ID)
			if got.OrderID != "order-x" {
				t.Fatalf("round %d: reservation lost: %+v", round, got)
			}
			var mine []eventUpdated
			for _, ev := range updates(outboxEvents(t, db)) {
				if ev.ID == tk.ID {
					mine = append(mine, ev)
				}
			}
			switch {
			case editErr == nil:
				// Edit first (v1), then the reservation of the edited ticket (v2).
				if len(mine) != 2 || mine[0].Version != 1 || mine[0].OrderID != "" ||
					mine[1].Version != 2 || mine[1].OrderID != "order-x" || mine[1].Title != "edited" || got.Version != 2 {
					t.Fatalf("round %d: edit then reserve gave %+v, stored %+v", round, mine, got)
				}
			case errors.Is(editErr, ErrReserved), errors.Is(editErr, ErrChanged):
				if len(mine) != 1 || mine[0].Version != 1 || mine[0].Title != "original" || got.Title != "original" {
					t.Fatalf("round %d: refused edit left %+v, stored %+v", round, mine, got)
				}
			default:
				t.Fatalf("round %d: edit: %v", round, editErr)
			}
		}
	}, migs...)
}

package orders_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// capShow is an event of face value 45.00 whose resale cap is percent.
func capShow(id string, version int64, percent int) events.EventState {
	return events.EventState{ID: id, Version: version, OrganizerID: "organizer", Name: "Night Opera", Venue: "Royal Hall",
		StartsAt: start.Add(30 * 24 * time.Hour), EndsAt: start.Add(30*24*time.Hour + 4*time.Hour), OnSaleAt: start,
		FaceValue: 4500, Capacity: 100, ResaleCapPercent: percent, Status: events.EventStatusScheduled}
}

// listResale makes each of the event's tickets a resale listing of
// seller at price, as tickets' ticket.updated says it.
func listResale(tb testing.TB, svc *orders.Service, eventID, seller string, price int64, ids ...string) {
	tb.Helper()
	for _, id := range ids {
		err := deliver(tb, svc, events.TicketUpdated{ID: id, Version: 1, Title: "Night Opera — Royal Hall", Price: price,
			UserID: seller, Status: events.TicketOnSale, EventID: eventID, OnSaleAt: start, Resale: true})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// TestOrderOverResaleCap: once the organizer lowers the cap below a
// listing's price, an order for it is 409 over_resale_cap naming the cap;
// listings within it, and the event's own stock, are ordered as before.
func TestOrderOverResaleCap(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		f := newFixture(t, db, orders.Config{Now: clocktest.New(start).Now})
		if err := deliver(t, f.svc, events.EventCreated{EventState: capShow("ev-cap", 0, 110)}); err != nil {
			t.Fatal(err)
		}
		tks := f.issue(t, "ev-cap", 3, start)
		listResale(t, f.svc, "ev-cap", "seller", 4900, tks[0])
		listResale(t, f.svc, "ev-cap", "seller", 4700, tks[1])
		reserve := func(user, ticket string) (int, string) {
			w := request(f.handler, "POST", "/api/orders", `{"ticketId":"`+ticket+`"}`, token(t, user))
			return w.Code, w.Body.String()
		}
		code, body := reserve("early", tks[0])
		if code != http.StatusCreated {
			t.Fatalf("order within the cap of 49.50: %d %s", code, body)
		}
		list, _ := f.svc.Orders(ctx, "early")
		if err := f.svc.Cancel(ctx, "early", list[0].ID); err != nil {
			t.Fatal(err)
		}

		// 105%: 47.25.
		if err := deliver(t, f.svc, events.EventUpdated{EventState: capShow("ev-cap", 1, 105)}); err != nil {
			t.Fatal(err)
		}
		code, body = reserve("late", tks[0])
		if code != http.StatusConflict || !strings.Contains(body, `"over_resale_cap"`) || !strings.Contains(body, "47.25") {
			t.Fatalf("order above the lowered cap: %d %s, want 409 over_resale_cap naming 47.25", code, body)
		}
		if _, err := f.svc.Reserve(ctx, "late", tks[0], ""); !errors.Is(err, orders.ErrOverResaleCap) {
			t.Fatalf("Reserve above the cap = %v, want ErrOverResaleCap", err)
		}
		if code, body = reserve("late", tks[1]); code != http.StatusCreated {
			t.Fatalf("order within the lowered cap: %d %s", code, body)
		}
		if code, body = reserve("late", tks[2]); code != http.StatusCreated {
			t.Fatalf("order of the event's stock: %d %s", code, body)
		}
	}, migs...)
}

// TestCapLoweringRacesOrders: buyers order resale listings priced above
// the cap the organizer is lowering, over and over, while the cap change
// lands. No order is created above the cap in force when it was created:
// every order committed before the change did (none appears after it),
// and every attempt after the change is refused.
func TestCapLoweringRacesOrders(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		for round := range 3 {
			ctx := context.Background()
			f := newFixture(t, db, orders.Config{})
			eventID := fmt.Sprintf("ev-race-%d", round)
			if err := deliver(t, f.svc, events.EventCreated{EventState: capShow(eventID, 0, 110)}); err != nil {
				t.Fatal(err)
			}
			const workers = 8
			tks := f.issue(t, eventID, workers, start)
			listResale(t, f.svc, eventID, "seller", 4900, tks...)

			var (
				made    atomic.Int64
				lowered atomic.Bool
				mu      sync.Mutex
				late    []string // orders made by attempts that began after the change
				wg      sync.WaitGroup
			)
			for w := range workers {
				wg.Go(func() {
					for k := 0; ; k++ {
						after := lowered.Load()
						user := fmt.Sprintf("r%d-b%d-%d", round, w, k)
						o, err := f.svc.Reserve(ctx, user, tks[w], "")
						if errors.Is(err, orders.ErrOverResaleCap) {
							return
						}
						if err != nil {
							t.Errorf("reserve: %v", err)
							return
						}
						made.Add(1)
						if after {
							mu.Lock()
							late = append(late, o.ID)
							mu.Unlock()
						}
						if err := f.svc.Cancel(ctx, user, o.ID); err != nil {
							t.Errorf("cancel: %v", err)
							return
						}
					}
				})
			}
			natsbustest.Eventually(t, 10*time.Second, "buyers are ordering", func() bool { return made.Load() >= 4*workers })
			if err := deliver(t, f.svc, events.EventUpdated{EventState: capShow(eventID, 1, 105)}); err != nil {
				t.Fatal(err)
			}
			lowered.Store(true)
			before := orderIDs(t, db)
			wg.Wait()
			if len(late) > 0 {
				t.Fatalf("round %d: %d orders made by attempts that began after the cap was lowered", round, len(late))
			}
			if after := orderIDs(t, db); len(after) != len(before) {
				t.Fatalf("round %d: %d orders committed after the cap was lowered, above it", round, len(after)-len(before))
			}
		}
	}, migs...)
}

// orderIDs is every order in db.
func orderIDs(tb testing.TB, db *sqldb.DB) map[string]bool {
	tb.Helper()
	rows, err := db.Read().Query(`SELECT id FROM orders`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		out[id] = true
	}
	return out
}

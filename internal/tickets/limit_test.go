package tickets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestMaxListings: a seller may have at most MaxListings live listings (on
// sale or reserved); a withdrawn one does not count, and other sellers are
// not affected.
func TestMaxListings(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := New(db, outbox.New(db, nil, natsbustest.Logger(t), outbox.Config{}), natsbustest.Logger(t), Config{MaxListings: 3})
		h := handler(s)
		list := func(user string, i int) httpapitest.Response {
			u := seller
			u.ID = user
			return httpapitest.Do(t, h, "POST", "/api/tickets", &u, fmt.Sprintf(`{"title":"Show %d","price":10}`, i))
		}
		var ids []string
		for i := range 3 {
			r := list(seller.ID, i)
			if r.Status != http.StatusCreated {
				t.Fatalf("listing %d = %d %s", i, r.Status, r.Body)
			}
			ids = append(ids, r.Object(t)["id"].(string))
		}
		r := list(seller.ID, 3)
		if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "most tickets on sale allowed") {
			t.Fatalf("listing past the cap = %d %s, want 429 saying why", r.Status, r.Body)
		}
		if ra := r.Header.Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After = %q, want none (no one knows when a listing sells)", ra)
		}
		if r := list("another-seller", 0); r.Status != http.StatusCreated {
			t.Fatalf("another seller = %d %s", r.Status, r.Body)
		}
		// A reserved listing is still live (it may come back on sale).
		v0 := int64(0)
		if err := s.reserve(ctx, ids[0], Reservation{OrderID: "order-1", Version: &v0, Price: money.Cents(1000)}); err != nil {
			t.Fatal(err)
		}
		if r := list(seller.ID, 4); r.Status != http.StatusTooManyRequests {
			t.Fatalf("listing with one reserved = %d %s, want 429", r.Status, r.Body)
		}
		// A withdrawn one is not: room for one more.
		if err := s.Withdraw(ctx, seller.ID, ids[1]); err != nil {
			t.Fatal(err)
		}
		if r := list(seller.ID, 4); r.Status != http.StatusCreated {
			t.Fatalf("listing after a withdrawal = %d %s, want 201", r.Status, r.Body)
		}
		if r := list(seller.ID, 5); r.Status != http.StatusTooManyRequests {
			t.Fatalf("listing past the cap again = %d %s, want 429", r.Status, r.Body)
		}
	}, migs...)
}

// TestMaxListingsRace: concurrent listings by one seller never pass the cap.
func TestMaxListingsRace(t *testing.T) {
	const (
		attempts = 20
		limit    = 3
	)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := New(db, outbox.New(db, nil, natsbustest.Logger(t), outbox.Config{}), natsbustest.Logger(t), Config{MaxListings: limit})
		errs := make([]error, attempts)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range attempts {
			wg.Go(func() {
				<-gate
				_, errs[i] = s.Create(context.Background(), seller.ID, Fields{Title: "Show", Price: money.Cents(100)})
			})
		}
		close(gate)
		wg.Wait()
		created := 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, ErrTooManyListings):
				t.Fatalf("listing %d: %v", i, err)
			}
		}
		if created != limit {
			t.Errorf("%d listings created, want %d", created, limit)
		}
	}, migs...)
}

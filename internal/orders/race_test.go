package orders_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// replicas opens the same new database twice and builds a service over
// each handle: two replicas of orders, as `serve` runs them.
func replicas(t *testing.T, engine sqldb.Engine, cfg orders.Config) (*fixture, *fixture) {
	t.Helper()
	dbcfg := sqldbtest.Config(t, engine, migs...)
	a := newFixture(t, sqldbtest.OpenConfig(t, dbcfg), cfg)
	b := newFixture(t, sqldbtest.OpenConfig(t, dbcfg), cfg)
	return a, b
}

// race sends n requests at once, alternating between the replicas, and
// returns how many got each status.
func race(t *testing.T, n int, replicas []*fixture, req func(i int) (body, tok string)) map[int]int {
	t.Helper()
	type prepared struct{ body, tok string }
	reqs := make([]prepared, n)
	for i := range reqs {
		reqs[i].body, reqs[i].tok = req(i)
	}
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		ready sync.WaitGroup
		done  sync.WaitGroup
		gate  = make(chan struct{})
	)
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-gate
			w := request(replicas[i%len(replicas)].handler, "POST", "/api/orders", reqs[i].body, reqs[i].tok)
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
			if w.Code >= 500 {
				t.Errorf("request %d: %d %s", i, w.Code, w.Body)
			}
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return codes
}

func TestReserveRace(t *testing.T) {
	const buyers = 64
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			a, b := replicas(t, engine, orders.Config{})
			a.addTicket(t, "hot", "Flash sale", 5000)
			codes := race(t, buyers, []*fixture{a, b}, func(i int) (string, string) {
				return `{"ticketId":"hot"}`, token(t, fmt.Sprintf("buyer-%d", i))
			})
			if codes[http.StatusCreated] != 1 || codes[http.StatusBadRequest] != buyers-1 {
				t.Errorf("statuses = %v, want one 201 and %d 400", codes, buyers-1)
			}
			if n := outboxCount(t, a.db, events.SubjectOrderCreated); n != 1 {
				t.Errorf("order.created events = %d, want 1", n)
			}
			var n int
			if err := b.db.Read().QueryRow(`SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 1 {
				t.Errorf("orders = %d (%v), want 1", n, err)
			}
		})
	}
}

func TestMaxPendingRace(t *testing.T) {
	const (
		attempts   = 40
		maxPending = 5
	)
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			a, b := replicas(t, engine, orders.Config{MaxPending: maxPending})
			for i := range attempts {
				a.addTicket(t, fmt.Sprintf("t%d", i), "Show", 100)
			}
			hoarder := token(t, "hoarder")
			codes := race(t, attempts, []*fixture{a, b}, func(i int) (string, string) {
				return fmt.Sprintf(`{"ticketId":"t%d"}`, i), hoarder
			})
			if codes[http.StatusCreated] != maxPending || codes[http.StatusTooManyRequests] != attempts-maxPending {
				t.Errorf("statuses = %v, want %d 201 and %d 429", codes, maxPending, attempts-maxPending)
			}
			if n := outboxCount(t, a.db, events.SubjectOrderCreated); n != maxPending {
				t.Errorf("order.created events = %d, want %d", n, maxPending)
			}
		})
	}
}

// TestMaxPendingPerAddressRace: many accounts from one address at once, on
// two replicas, never hold more than the address's bound.
func TestMaxPendingPerAddressRace(t *testing.T) {
	const (
		attempts = 40
		perAddr  = 5
	)
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			a, b := replicas(t, engine, orders.Config{MaxPendingPerAddress: perAddr})
			for i := range attempts {
				a.addTicket(t, fmt.Sprintf("t%d", i), "Show", 100)
			}
			// Every request comes from the test's one client address.
			codes := race(t, attempts, []*fixture{a, b}, func(i int) (string, string) {
				return fmt.Sprintf(`{"ticketId":"t%d"}`, i), token(t, fmt.Sprintf("account-%d", i))
			})
			if codes[http.StatusCreated] != perAddr || codes[http.StatusTooManyRequests] != attempts-perAddr {
				t.Errorf("statuses = %v, want %d 201 and %d 429", codes, perAddr, attempts-perAddr)
			}
			if n := outboxCount(t, a.db, events.SubjectOrderCreated); n != perAddr {
				t.Errorf("order.created events = %d, want %d", n, perAddr)
			}
		})
	}
}

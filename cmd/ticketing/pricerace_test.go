package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// recordingProvider is the sandbox that remembers every charge it made and
// every refund, so a test sees the money that moved, not what a service
// says about it.
type recordingProvider struct {
	payments.Provider
	mu       sync.Mutex
	charges  map[string]recordedCharge // by order id
	refunded map[string]bool           // by charge id
}

type recordedCharge struct {
	id     string
	amount money.Cents
}

func newRecordingProvider() *recordingProvider {
	return &recordingProvider{Provider: payments.NewSandbox(), charges: map[string]recordedCharge{}, refunded: map[string]bool{}}
}

func (p *recordingProvider) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	c, err := p.Provider.Charge(ctx, req)
	if err == nil {
		p.mu.Lock()
		p.charges[req.OrderID] = recordedCharge{id: c.ID, amount: req.Amount}
		p.mu.Unlock()
	}
	return c, err
}

func (p *recordingProvider) Refund(ctx context.Context, req payments.RefundRequest) error {
	err := p.Provider.Refund(ctx, req)
	if err == nil || errors.Is(err, payments.ErrAlreadyRefunded) {
		p.mu.Lock()
		p.refunded[req.ChargeID] = true
		p.mu.Unlock()
	}
	return err
}

// charge returns the charge of an order and whether it was refunded.
func (p *recordingProvider) charge(orderID string) (c recordedCharge, charged, refunded bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, charged = p.charges[orderID]
	return c, charged, charged && p.refunded[c.id]
}

// partDB is the database of one part of a running `up`.
func partDB(t *testing.T, app *App, name string) *sqldb.DB {
	t.Helper()
	for _, p := range app.parts {
		if p.name == name {
			return p.db
		}
	}
	t.Fatalf("no part %s", name)
	return nil
}

// feeRule is the service fee the system under test takes: the default.
var feeRule = money.FeeRule{Basis: 1000, Fixed: 50}

func cents(dollars float64) money.Cents { return money.Cents(math.Round(dollars * 100)) }

// raceOrder is one reservation of the race and what became of it.
type raceOrder struct {
	ticket   ticketJSON
	editCode int
	edited   ticketJSON // the seller's edit, when editCode is 200
	order    orderJSON  // as POST /api/orders answered
	payCode  int
}

// TestUpPriceEditRacesReservation races 50 sellers' price edits against
// reservations and payments of the same tickets, through the real
// listeners of `up`, on SQLite and PostgreSQL. The buyer reserves each
// ticket at 10-odd dollars while its seller raises it to 1,000-odd, and
// pays at once. Whatever lands first, every charge equals the order's
// snapshot price, which is the price of the ticket version the order
// reserved; an order whose reservation the edit overtook is cancelled with
// cancelledBy price_change, and refunded if it was paid meanwhile; an
// order that stays complete holds its ticket at the price charged.
//
// Not parallel under the race detector: its 50 racing pairs load both
// cores (and PostgreSQL), and beside other tests reservations were seen to
// wait past the client's 10 s timeout.
func TestUpPriceEditRacesReservation(t *testing.T) {
	parallelUnlessRace(t)
	const n = 50
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			// One buyer, from one address, holds all n orders for a moment.
			env := map[string]string{"MAX_PENDING_ORDERS": fmt.Sprint(2 * n), "MAX_PENDING_ORDERS_PER_ADDRESS": fmt.Sprint(2 * n)}
			if engine == sqldb.Postgres {
				env["DATABASE_URL"] = freshPostgres(t)
			}
			rec := newRecordingProvider()
			base, app := startUpConfig(t, t.TempDir(), env, func(c *Config) { c.provider = rec })
			seller := signUp(t, base, "seller@example.com")
			buyer := signUp(t, base, "buyer@example.com")

			race := make([]raceOrder, n)
			for i := range race {
				if got := seller.do("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Show %d", i), "price": 10 + i}, &race[i].ticket); got != http.StatusCreated {
					t.Fatalf("create ticket %d = %d", i, got)
				}
			}
			// Every reservation must start from the version listed: wait
			// until orders' replica holds all the tickets.
			replica := partDB(t, app, "orders")
			natsbustest.Eventually(t, 20*time.Second, "orders knows every ticket", func() bool {
				var got int
				return replica.Read().QueryRow(`SELECT count(*) FROM tickets`).Scan(&got) == nil && got == n
			})

			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range race {
				r := &race[i]
				wg.Go(func() {
					<-start
					code, err := seller.try("PUT", "/api/tickets/"+r.ticket.ID, map[string]any{"title": r.ticket.Title, "price": 1000 + i}, &r.edited)
					r.editCode = code
					if err != nil || (code != http.StatusOK && code != http.StatusBadRequest) {
						errs <- fmt.Errorf("edit %d = %d: %v", i, code, err)
					}
				})
				wg.Go(func() {
					<-start
					code, err := buyer.try("POST", "/api/orders", map[string]string{"ticketId": r.ticket.ID}, &r.order)
					if err != nil || code != http.StatusCreated {
						errs <- fmt.Errorf("reserve %d = %d: %v", i, code, err)
						return
					}
					// Pay at once; payments learns of the order from an
					// event, and says 404 until then.
					deadline := time.Now().Add(20 * time.Second)
					for {
						code, err = buyer.try("POST", "/api/payments", map[string]string{"orderId": r.order.ID, "token": "tok_visa"}, nil)
						if err != nil || code != http.StatusNotFound || time.Now().After(deadline) {
							break
						}
						time.Sleep(10 * time.Millisecond) // polling another service's state
					}
					r.payCode = code
					if err != nil || (code != http.StatusCreated && code != http.StatusBadRequest) {
						errs <- fmt.Errorf("pay %d = %d: %v", i, code, err)
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				t.FailNow()
			}

			// Settle: tickets has applied each order (the ticket is held by
			// it and the order is complete) or refused it (the order is
			// cancelled and any charge refunded).
			final := make([]orderJSON, n)
			for i, r := range race {
				natsbustest.Eventually(t, 30*time.Second, "order "+r.order.ID+" settles", func() bool {
					var o orderJSON
					var tk ticketJSON
					buyer.do("GET", "/api/orders/"+r.order.ID, nil, &o)
					buyer.do("GET", "/api/tickets/"+r.ticket.ID, nil, &tk)
					_, charged, refunded := rec.charge(r.order.ID)
					final[i] = o
					return (o.Status == "complete" && tk.OrderID == o.ID) ||
						(o.Status == "cancelled" && o.CancelledBy != "" && charged == refunded)
				})
			}

			outcomes := map[string]int{}
			for i, r := range race {
				o := final[i]
				// The price of each version of the ticket: as listed, then
				// from the seller's edit (reservations and releases in
				// between keep the price).
				priceAt := func(v int64) money.Cents {
					if r.editCode == http.StatusOK && v >= r.edited.Version {
						return cents(r.edited.Price)
					}
					return cents(r.ticket.Price)
				}
				snapshot := cents(o.Ticket.Price)
				if snapshot != cents(r.order.Ticket.Price) || o.Ticket.Version != r.order.Ticket.Version {
					t.Errorf("order %d: shows %v at version %d, but was made at %v version %d", i, o.Ticket.Price, o.Ticket.Version, r.order.Ticket.Price, r.order.Ticket.Version)
				}
				if want := priceAt(o.Ticket.Version); snapshot != want {
					t.Errorf("order %d: snapshot %d cents, but version %d of the ticket costs %d", i, snapshot, o.Ticket.Version, want)
				}
				// The buyer is charged the total the order shows: the
				// snapshot's price and the fee taken with it.
				total := cents(o.Total)
				if want := snapshot + feeRule.Fee(snapshot); cents(o.Fee) != feeRule.Fee(snapshot) || total != want {
					t.Errorf("order %d: fee %v total %v, want %d cents in all", i, o.Fee, o.Total, want)
				}
				c, charged, refunded := rec.charge(o.ID)
				if charged && c.amount != total {
					t.Errorf("order %d: charged %d cents, the order shows %d (edit %d, payment %d, %s)", i, c.amount, total, r.editCode, r.payCode, o.Status)
				}
				switch o.Status {
				case "complete":
					var tk ticketJSON
					buyer.do("GET", "/api/tickets/"+r.ticket.ID, nil, &tk)
					if !charged || refunded || cents(tk.Price)+feeRule.Fee(cents(tk.Price)) != c.amount || r.payCode != http.StatusCreated {
						t.Errorf("order %d complete: charged %v %d cents (refunded %v), ticket at %v, payment answered %d", i, charged, c.amount, refunded, tk.Price, r.payCode)
					}
					outcomes["complete at the price reserved"]++
				case "cancelled":
					if o.CancelledBy != "price_change" || r.editCode != http.StatusOK || r.edited.Version <= o.Ticket.Version {
						t.Errorf("order %d cancelled by %q (edit %d to version %d, order at version %d)", i, o.CancelledBy, r.editCode, r.edited.Version, o.Ticket.Version)
					}
					if charged {
						outcomes["edit first, paid meanwhile, refunded"]++
					} else {
						outcomes["edit first, nothing charged"]++
					}
				default:
					t.Errorf("order %d ended %s", i, o.Status)
				}
			}
			t.Logf("%s: %v", engine, outcomes)
		})
	}
}

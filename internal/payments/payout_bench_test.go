package payments_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkPayoutRun times one payout run (RunPayouts of an event, as
// its payout.due starts it at the event's end plus the hold) that pays
// PAYOUT_BENCH_ORDERS due orders (default 10,000) over the sandbox, on
// every engine. Issue 14's target: 10,000 in under a minute on two cores.
//
// The setup goes through the service as `up` does, minus the bus: the
// event's replica (ApplyEvent), the payees' payout accounts
// (ConnectAccount), each order's replica (AddOrder, as order.created
// writes it) and its payment (Pay: the sandbox's charge and the ledger's
// charge transaction). Nine in ten orders are the event's primary sales
// (its organizer's proceeds), one in ten resales by 100 sellers.
func BenchmarkPayoutRun(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("PAYOUT_BENCH_ORDERS")); err == nil && v > 0 {
		n = v
	}
	for _, e := range sqldbtest.Engines(b) {
		b.Run(fmt.Sprintf("%s/%d_orders", e, n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := duePayouts(b, e, n)
				b.StartTimer()
				r, err := f.svc.RunPayouts(context.Background(), "ev-1")
				b.StopTimer()
				if err != nil || r.Paid != n || r.Refused != 0 {
					b.Fatalf("run = %+v, %v; want %d paid", r, err, n)
				}
				if got := len(f.sandbox.Transfers()); got != n {
					b.Fatalf("%d transfers, want %d", got, n)
				}
				if i == 0 {
					if r := books(b, f.db); !r.OK() || r.Payouts != n {
						b.Fatalf("books after the run: %d payouts, %v", r.Payouts, r.Problems)
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "payouts/s")
		})
	}
}

// duePayouts is a fixture whose event ev-1 has n paid orders, every one
// due: the clock is past the event's end plus the hold.
func duePayouts(b *testing.B, engine sqldb.Engine, n int) *fixture {
	b.Helper()
	f := newFixture(b, sqldbtest.Open(b, engine, migs...), nil)
	ctx := context.Background()
	t0 := f.clock.Now()
	if err := f.svc.ApplyEvent(ctx, events.EventState{ID: "ev-1", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour)}, true); err != nil {
		b.Fatal(err)
	}
	payees := []string{"org"}
	for i := range 100 {
		payees = append(payees, fmt.Sprintf("seller-%d", i))
	}
	for _, u := range payees {
		if _, _, err := f.svc.ConnectAccount(ctx, u, u+"@example.com", "", ""); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		seller, payee := "org", events.PayeeOrganizer
		if i%10 == 0 {
			seller, payee = fmt.Sprintf("seller-%d", i/10%100), events.PayeeSeller
		}
		id := fmt.Sprintf("o-%06d", i)
		err := f.svc.AddOrder(ctx, payments.Order{ID: id, UserID: fmt.Sprintf("buyer-%d", i), Price: money.Cents(2500 + i%1000),
			Fee: 300, SellerID: seller, Payee: payee, EventID: "ev-1", Status: events.StatusCreated,
			ExpiresAt: t0.Add(15 * time.Minute)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.svc.Pay(ctx, fmt.Sprintf("buyer-%d", i), id, "tok_visa"); err != nil {
			b.Fatalf("pay %s: %v", id, err)
		}
	}
	f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold)
	return f
}

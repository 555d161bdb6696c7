package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v85"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
	"pgregory.net/rapid"
)

// The money invariants of issue 14 (DESIGN.md 9.4): over random sequences
// of sales, resales, refunds (asked twice, or while a payout run is under
// way), disputes, event cancellations, payout accounts connected, time
// passing and payout runs (some losing the provider's answer after it
// paid), after every step the books balance to the cent, no payee has been
// paid more than their share of what was collected, nothing is paid out
// of an order once it is disputed, refunded or its event cancelled, every
// order is refunded at most once, and the provider's transfers are the
// ledger's payouts. Run it longer with, for example,
//
//	go test ./internal/payments/ -run TestPayoutInvariants -rapid.checks=1000
//
// (or RAPID_CHECKS=1000); without either it runs payoutChecks runs per
// engine, a few seconds under -race.

// payoutChecks is how many random runs TestPayoutInvariants makes on each
// engine unless -rapid.checks or RAPID_CHECKS says otherwise, and
// payoutSteps how many actions a run takes at most.
var (
	payoutChecks = map[sqldb.Engine]int{sqldb.SQLite: 15, sqldb.Postgres: 20}
	payoutSteps  = map[sqldb.Engine]int{sqldb.SQLite: 30, sqldb.Postgres: 30}
)

// propUsers buy, sell, resell and organize.
var propUsers = []string{"ann", "bob", "cat", "dan"}

// propActions are what a step draws, the ones wanted most first (rapid
// draws small indexes somewhat more often).
var propActions = []string{"sell", "payout", "advance", "dispute", "refund", "resell", "cancel", "connect", "event"}

// propAdvances are the clock's steps: within a payout's lease, past it,
// and past an event's end plus the hold.
var propAdvances = []time.Duration{3*time.Hour + payments.DefaultPayoutHold, 3 * time.Minute, time.Hour,
	payments.DefaultPayoutHold, time.Minute, 4 * time.Hour}

// payoutTables are emptied before each run, so each starts from nothing
// (a fresh database per run would cost more than the run).
var payoutTables = []string{"ledger_entries", "ledger_transactions", "payouts", "disputes", "payments",
	"orders", "sale_events", "payout_accounts", "webhook_events", "outbox"}

type propEvent struct {
	id, organizer    string
	version          int64
	startsAt, endsAt time.Time
	cancelled        bool
}

type propOrder struct {
	id, paymentID, stripeID string
	buyer, seller, eventID  string
	price                   money.Cents
	refunded, disputed      bool
	// frozen is how many transfers the provider had made for the order
	// when it was disputed, refunded or its event cancelled (-1: none of
	// these): no transfer may follow.
	frozen int
}

// propRun is one run's service and its model of what it did.
type propRun struct {
	f        *fixture
	payer    *flakyPayer
	db       *sqldb.DB
	events   []*propEvent
	orders   []*propOrder
	refunds0 int // the sandbox's refunds before the run
	stats    *propStats
}

type propStats struct {
	mu                                                 sync.Mutex
	sales, resales, refunds, disputes, cancels, failed int
	transfers                                          int
}

func (st *propStats) String() string {
	return fmt.Sprintf("%d sales, %d resales, %d refunds, %d disputes, %d events cancelled, %d runs losing the provider's answer, %d transfers",
		st.sales, st.resales, st.refunds, st.disputes, st.cancels, st.failed, st.transfers)
}

// TestPayoutInvariants: see the top of this file.
func TestPayoutInvariants(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			db := sqldbtest.Open(t, engine, migs...)
			payer := &flakyPayer{Sandbox: payments.NewSandbox().(*payments.Sandbox)}
			f := newFixture(t, db, payer)
			f.sandbox = payer.Sandbox
			stats := &propStats{}
			defer func() { t.Logf("over every run: %s", stats) }()
			defer withRapidChecks(t, payoutChecks[engine])()
			rapid.Check(t, func(rt *rapid.T) {
				ctx := context.Background()
				err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
					for _, table := range payoutTables {
						if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					rt.Fatalf("empty the tables: %v", err)
				}
				r := &propRun{f: f, payer: payer, db: db, refunds0: payer.Refunds(), stats: stats}
				// Some payees have an account from the start, some
				// connect later, some never do.
				for _, u := range propUsers {
					if rapid.Bool().Draw(rt, "connected "+u) {
						r.connect(rt, u)
					}
				}
				for range rapid.IntRange(8, payoutSteps[engine]).Draw(rt, "steps") {
					r.step(rt, rapid.SampledFrom(propActions).Draw(rt, "action"))
					r.check(rt)
				}
				r.settle(rt)
			})
		})
	}
}

func (r *propRun) step(rt *rapid.T, action string) {
	ctx := context.Background()
	switch action {
	case "event":
		r.newEvent(rt)
	case "sell":
		// A primary sale of an event (its organizer's) or a free-form
		// listing's (its seller's, no event).
		if rapid.Bool().Draw(rt, "free-form") {
			r.sell(rt, pick(rt, propUsers, "seller"), events.PayeeSeller, "")
			break
		}
		ev := r.openEvent(rt)
		r.sell(rt, ev.organizer, events.PayeeOrganizer, ev.id)
	case "resell":
		// A buyer of an event's ticket sells it on.
		var from []*propOrder
		for _, o := range r.orders {
			if o.eventID != "" && !r.event(o.eventID).cancelled {
				from = append(from, o)
			}
		}
		if len(from) == 0 {
			return
		}
		o := pick(rt, from, "resold")
		r.sell(rt, o.buyer, events.PayeeSeller, o.eventID)
		r.stats.add(func(st *propStats) { st.resales++ })
	case "refund":
		if len(r.orders) == 0 {
			return
		}
		o := pick(rt, r.orders, "refunded")
		switch rapid.IntRange(0, 2).Draw(rt, "refund how") {
		case 0:
			r.refund(rt, o)
		case 1: // a redelivered request
			r.refund(rt, o)
			r.refund(rt, o)
		case 2: // while a payout run is under way
			fail := rapid.Bool().Draw(rt, "run fails")
			r.setFail(fail)
			var (
				wg     sync.WaitGroup
				runErr error
			)
			wasFrozen := o.frozen >= 0
			wg.Go(func() { _, runErr = r.f.svc.RunPayouts(ctx, "") })
			refundErr := r.f.svc.Refund(ctx, o.paymentID)
			wg.Wait() // before any Fatal: the run must not outlive this one
			if refundErr != nil {
				rt.Fatalf("refund %s during a payout run: %v", o.id, refundErr)
			}
			r.refund(rt, o) // asked again: a no-op that records the model
			r.setFail(false)
			r.runDone(rt, runErr, fail)
			if !wasFrozen {
				// A transfer the run made meanwhile is allowed (the
				// platform's loss); none after it.
				o.frozen = -1
				r.freeze(o)
			}
		}
	case "dispute":
		if len(r.orders) == 0 {
			return
		}
		o := pick(rt, r.orders, "disputed")
		r.dispute(rt, o)
	case "cancel":
		var live []*propEvent
		for _, ev := range r.events {
			if !ev.cancelled {
				live = append(live, ev)
			}
		}
		if len(live) == 0 {
			return
		}
		ev := pick(rt, live, "cancelled")
		ev.version++
		ev.cancelled = true
		err := r.f.svc.ApplyEvent(ctx, events.EventState{ID: ev.id, Version: ev.version, OrganizerID: ev.organizer,
			StartsAt: ev.startsAt, EndsAt: ev.endsAt, Status: events.EventStatusCancelled}, false)
		if err != nil {
			rt.Fatalf("cancel event: %v", err)
		}
		r.stats.add(func(st *propStats) { st.cancels++ })
		// Orders asks for the refund of each of its paid orders; some
		// requests come later (a later "refund" step), so payout runs
		// meet cancelled orders not refunded yet.
		for _, o := range r.orders {
			if o.eventID == ev.id {
				r.freeze(o)
				if rapid.Bool().Draw(rt, "refunded at once") {
					r.refund(rt, o)
				}
			}
		}
	case "connect":
		r.connect(rt, pick(rt, propUsers, "connects"))
	case "advance":
		r.f.clock.Advance(pick(rt, propAdvances, "advance"))
	case "payout":
		eventID := ""
		if len(r.events) > 0 && rapid.Bool().Draw(rt, "one event") {
			eventID = pick(rt, r.events, "run of").id
		}
		// The provider: answering, losing its answers after paying, or
		// out of reach before paying (a claim left with nothing moved,
		// which a later dispute, refund or cancellation must stop).
		mode := rapid.IntRange(0, 2).Draw(rt, "provider")
		r.payer.set(mode == 1, mode == 2)
		_, err := r.f.svc.RunPayouts(ctx, eventID)
		r.payer.set(false, false)
		r.runDone(rt, err, mode != 0)
	}
}

// newEvent adds an event starting within 12 hours, ending a few hours
// later (or with no end: the default length).
func (r *propRun) newEvent(rt *rapid.T) *propEvent {
	now := r.f.clock.Now()
	ev := &propEvent{id: uuid.NewString(), organizer: pick(rt, propUsers, "organizer"),
		startsAt: now.Add(time.Duration(rapid.IntRange(0, 12).Draw(rt, "starts in (h)")) * time.Hour)}
	if h := rapid.IntRange(0, 6).Draw(rt, "lasts (h)"); h > 0 {
		ev.endsAt = ev.startsAt.Add(time.Duration(h) * time.Hour)
	}
	err := r.f.svc.ApplyEvent(context.Background(), events.EventState{ID: ev.id, OrganizerID: ev.organizer,
		StartsAt: ev.startsAt, EndsAt: ev.endsAt}, true)
	if err != nil {
		rt.Fatalf("add event: %v", err)
	}
	r.events = append(r.events, ev)
	return ev
}

// openEvent picks an event that is not cancelled, adding one if none is.
func (r *propRun) openEvent(rt *rapid.T) *propEvent {
	var open []*propEvent
	for _, ev := range r.events {
		if !ev.cancelled {
			open = append(open, ev)
		}
	}
	if len(open) == 0 || rapid.IntRange(0, 3).Draw(rt, "new event (0)") == 0 {
		return r.newEvent(rt)
	}
	return pick(rt, open, "event")
}

func (r *propRun) event(id string) *propEvent {
	for _, ev := range r.events {
		if ev.id == id {
			return ev
		}
	}
	return nil
}

// sell adds an order of seller's (payee) and has a buyer pay it, as
// orders and its buyer do.
func (r *propRun) sell(rt *rapid.T, seller, payee, eventID string) {
	ctx := context.Background()
	o := &propOrder{id: uuid.NewString(), buyer: pick(rt, propUsers, "buyer"), seller: seller, eventID: eventID,
		price: money.Cents(rapid.Int64Range(1, 500_00).Draw(rt, "price")), frozen: -1}
	fee := money.Cents(rapid.Int64Range(0, 50_00).Draw(rt, "fee"))
	err := r.f.svc.AddOrder(ctx, payments.Order{ID: o.id, UserID: o.buyer, Price: o.price, Fee: fee,
		SellerID: seller, Payee: payee, EventID: eventID, Status: events.StatusCreated,
		ExpiresAt: r.f.clock.Now().Add(15 * time.Minute)})
	if err != nil {
		rt.Fatalf("add order: %v", err)
	}
	p, err := r.f.svc.Pay(ctx, o.buyer, o.id, "tok_visa")
	if err != nil {
		rt.Fatalf("pay: %v", err)
	}
	if err := r.f.svc.CompleteOrder(ctx, o.id, 1); err != nil {
		rt.Fatalf("complete: %v", err)
	}
	o.paymentID, o.stripeID = p.ID, p.StripeID
	r.orders = append(r.orders, o)
	r.stats.add(func(st *propStats) { st.sales++ })
}

func (r *propRun) connect(rt *rapid.T, u string) {
	if _, _, err := r.f.svc.ConnectAccount(context.Background(), u, u+"@example.com", "", ""); err != nil {
		rt.Fatalf("connect %s: %v", u, err)
	}
}

func (r *propRun) refund(rt *rapid.T, o *propOrder) {
	if err := r.f.svc.Refund(context.Background(), o.paymentID); err != nil {
		rt.Fatalf("refund %s: %v", o.id, err)
	}
	if !o.refunded {
		r.stats.add(func(st *propStats) { st.refunds++ })
	}
	o.refunded = true
	r.freeze(o)
}

// dispute delivers Stripe's charge.dispute.created about the order's
// charge, as the webhook does once it verified the signature.
func (r *propRun) dispute(rt *rapid.T, o *propOrder) {
	var ev stripe.Event
	if err := json.Unmarshal(disputeEvent("evt_"+uuid.NewString(), "dp_"+uuid.NewString(), o.stripeID), &ev); err != nil {
		rt.Fatal(err)
	}
	if err := r.f.svc.HandleWebhook(context.Background(), ev); err != nil {
		rt.Fatalf("dispute %s: %v", o.id, err)
	}
	if !o.disputed {
		r.stats.add(func(st *propStats) { st.disputes++ })
	}
	o.disputed = true
	r.freeze(o)
}

// freeze notes the transfers made so far for o, the last it may have.
func (r *propRun) freeze(o *propOrder) {
	if o.frozen < 0 {
		o.frozen = transfersByOrder(r.payer.Sandbox)[o.id]
	}
}

func (r *propRun) setFail(fail bool) {
	r.payer.mu.Lock()
	r.payer.fail = fail
	r.payer.mu.Unlock()
}

// runDone checks a payout run's error: none unless the provider's answer
// was lost, and then the outage's.
func (r *propRun) runDone(rt *rapid.T, err error, fail bool) {
	if fail {
		if err != nil {
			r.stats.add(func(st *propStats) { st.failed++ })
		}
		if err != nil && !errors.Is(err, payments.ErrProviderUnavailable) {
			rt.Fatalf("payout run with the provider's answer lost: %v, want ErrProviderUnavailable", err)
		}
		return
	}
	if err != nil {
		rt.Fatalf("payout run: %v", err)
	}
}

// settle lets every lease and hold pass and runs payouts until nothing is
// pending: every order that is not frozen, of a payee with an account,
// is then paid exactly once.
func (r *propRun) settle(rt *rapid.T) {
	ctx := context.Background()
	// Leases first (a replay inside the window), then every hold.
	// (An event starts at most 12 hours after it was added.)
	for _, d := range []time.Duration{3 * time.Minute, 18*time.Hour + events.DefaultEventLength + payments.DefaultPayoutHold, 3 * time.Minute} {
		r.f.clock.Advance(d)
		if _, err := r.f.svc.RunPayouts(ctx, ""); err != nil {
			rt.Fatalf("settling payout run: %v", err)
		}
		r.check(rt)
	}
	connected := map[string]bool{}
	rows, err := r.db.Read().QueryContext(ctx, `SELECT user_id FROM payout_accounts WHERE status = 'enabled'`)
	if err != nil {
		rt.Fatal(err)
	}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rt.Fatal(err)
		}
		connected[u] = true
	}
	rows.Close()
	got := transfersByOrder(r.payer.Sandbox)
	for _, o := range r.orders {
		if o.frozen < 0 && connected[o.seller] && got[o.id] != 1 {
			rt.Fatalf("order %s (%+v) of a connected payee, never disputed, refunded or cancelled: %d transfers once settled, want 1",
				o.id, *o, got[o.id])
		}
	}
	r.stats.add(func(st *propStats) {
		for _, o := range r.orders {
			st.transfers += got[o.id]
		}
	})
}

// check asserts the invariants on the database and the provider.
func (r *propRun) check(rt *rapid.T) {
	ctx := context.Background()
	if b := books(rt, r.db); !b.OK() {
		rt.Fatalf("books do not hold: %v", b.Problems)
	}
	payouts := map[string][]money.Cents{} // by order, from the ledger
	r.query(rt, `SELECT t.order_id, -e.amount FROM ledger_transactions t
		JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.kind = 'payout' AND e.account = 'cash'`, func(scan func(...any) error) {
		var (
			id     string
			amount money.Cents
		)
		if err := scan(&id, &amount); err != nil {
			rt.Fatal(err)
		}
		payouts[id] = append(payouts[id], amount)
	})
	refunds := map[string]int{}
	r.query(rt, `SELECT order_id, count(*) FROM ledger_transactions WHERE kind = 'refund' GROUP BY order_id`,
		func(scan func(...any) error) {
			var (
				id string
				n  int
			)
			if err := scan(&id, &n); err != nil {
				rt.Fatal(err)
			}
			refunds[id] = n
		})
	var pending int
	if err := r.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM payouts WHERE status = 'pending'`).Scan(&pending); err != nil {
		rt.Fatal(err)
	}
	transfers := transfersByOrder(r.payer.Sandbox)

	share, paid := map[string]money.Cents{}, map[string]money.Cents{} // by payee
	refunded := 0
	for _, o := range r.orders {
		share[o.seller] += o.price
		for _, a := range payouts[o.id] {
			paid[o.seller] += a
		}
		if n := len(payouts[o.id]); n > 1 || n == 1 && payouts[o.id][0] != o.price {
			rt.Fatalf("order %s of %d cents has ledger payouts %v, want at most one of its price", o.id, o.price, payouts[o.id])
		}
		if transfers[o.id] > 1 {
			rt.Fatalf("order %s has %d transfers at the provider, want at most 1", o.id, transfers[o.id])
		}
		if pending == 0 && transfers[o.id] != len(payouts[o.id]) {
			rt.Fatalf("order %s: %d transfers at the provider, %d payouts in the ledger, none pending", o.id, transfers[o.id], len(payouts[o.id]))
		}
		if o.frozen >= 0 && (transfers[o.id] > o.frozen || len(payouts[o.id]) > o.frozen) {
			rt.Fatalf("order %s (disputed %v, refunded %v, event cancelled %v) was paid out after that: %d transfers, %d ledger payouts, %d before",
				o.id, o.disputed, o.refunded, o.eventID != "" && r.event(o.eventID).cancelled, transfers[o.id], len(payouts[o.id]), o.frozen)
		}
		want := 0
		if o.refunded {
			want = 1
			refunded++
		}
		if refunds[o.id] != want || r.payer.Refunded(o.stripeID) != o.refunded {
			rt.Fatalf("order %s (refunded %v): %d refund entries, refunded at the provider %v", o.id, o.refunded, refunds[o.id], r.payer.Refunded(o.stripeID))
		}
	}
	if n := r.payer.Refunds() - r.refunds0; n != refunded {
		rt.Fatalf("the provider refunded %d charges, the run %d orders", n, refunded)
	}
	for payee, p := range paid {
		if p > share[payee] {
			rt.Fatalf("%s was paid out %d cents, more than their share %d of what was collected", payee, p, share[payee])
		}
	}
}

func (r *propRun) query(rt *rapid.T, q string, row func(scan func(...any) error)) {
	rows, err := r.db.Read().QueryContext(context.Background(), q)
	if err != nil {
		rt.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		row(rows.Scan)
	}
	if err := rows.Err(); err != nil {
		rt.Fatal(err)
	}
}

func (st *propStats) add(fn func(*propStats)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	fn(st)
}

// pick draws one of xs.
func pick[T any](rt *rapid.T, xs []T, label string) T {
	return xs[rapid.IntRange(0, len(xs)-1).Draw(rt, label)]
}

// withRapidChecks sets rapid's number of checks to n unless the one
// running the tests chose it (-rapid.checks or RAPID_CHECKS), and
// returns the function that puts it back.
func withRapidChecks(tb testing.TB, n int) func() {
	tb.Helper()
	chosen := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rapid.checks" {
			chosen = true
		}
	})
	f := flag.Lookup("rapid.checks")
	if chosen || f == nil {
		return func() {}
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		tb.Fatal(err)
	}
	return func() { _ = f.Value.Set(old) }
}

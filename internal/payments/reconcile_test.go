package payments_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// What a scripted provider does with one charge.
const (
	pass = ""     // charge and answer
	lost = "lost" // charge, then answer as a gateway that timed out: the money moved, nobody heard
	down = "down" // fail before charging
)

// scriptedProvider is the sandbox behind a script of failures, one entry
// per charge call (calls past the script pass). It records the keys it was
// asked to charge under.
type scriptedProvider struct {
	*payments.Sandbox
	mu     sync.Mutex
	script []string
	keys   []string
	// hold, when set, runs inside every charge after the script's first,
	// before the sandbox charges.
	hold func()
}

func newScripted(script ...string) *scriptedProvider {
	return &scriptedProvider{Sandbox: payments.NewSandbox().(*payments.Sandbox), script: script}
}

func (p *scriptedProvider) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	p.mu.Lock()
	n := len(p.keys)
	p.keys = append(p.keys, req.IdempotencyKey)
	step, hold := pass, p.hold
	if n < len(p.script) {
		step = p.script[n]
	}
	p.mu.Unlock()
	if n > 0 && hold != nil {
		hold()
	}
	switch step {
	case down:
		return payments.Charge{}, errors.New("stripe: create payment intent: 503 Service Unavailable")
	case lost:
		if _, err := p.Sandbox.Charge(ctx, req); err != nil {
			return payments.Charge{}, err
		}
		return payments.Charge{}, errors.New("stripe: create payment intent: 504 Gateway Timeout")
	}
	return p.Sandbox.Charge(ctx, req)
}

// calls returns the keys charged under so far.
func (p *scriptedProvider) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...)
}

// reconfigure rebuilds f's service and handler with cfg, over provider
// and f's clock.
func (f *fixture) reconfigure(tb testing.TB, provider payments.Provider, cfg payments.Config) {
	tb.Helper()
	log := natsbustest.Logger(tb)
	cfg.Provider, cfg.Now = provider, f.clock.Now
	f.svc = payments.New(f.db, outbox.New(f.db, natsbustest.NopPublisher{}, log, outbox.Config{}), log, cfg)
	mux := http.NewServeMux()
	f.svc.Routes(mux)
	f.handler = httpapi.Edge(mux, log, testKey, time.Now, nil)
}

// paymentOf reads the status of the payment of an order: "" when there is
// none.
func paymentOf(tb testing.TB, db *sqldb.DB, orderID string) (id string, status payments.Status) {
	tb.Helper()
	err := db.Read().QueryRow(`SELECT id, status FROM payments WHERE order_id = $1`, orderID).Scan(&id, &status)
	if err != nil && !errors.Is(sqldb.Err(err), sqldb.ErrNotFound) {
		tb.Fatal(err)
	}
	return id, status
}

// unknownOutcome pays o-1 for alice with card through f and expects the
// 503 of a charge whose outcome is unknown.
func unknownOutcome(t *testing.T, f *fixture, card string) {
	t.Helper()
	f.addOrder(t, "o-1", "alice", 2000)
	if w := f.pay("o-1", card, token(t, "alice")); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("pay: %d %s, want 503", w.Code, w.Body)
	}
	if _, st := paymentOf(t, f.db, "o-1"); st != payments.StatusPending {
		t.Fatalf("payment after a 503 is %q, want pending", st)
	}
}

// TestReconcile replays a claim left pending by a charge whose answer was
// lost, round after round (the fake clock decides when one is due), until
// the provider tells: charged (recorded and announced once), refused (the
// order is payable again) or still unknown (pending; the buyer's own retry
// then replays the same key).
func TestReconcile(t *testing.T) {
	type round struct {
		advance time.Duration // the clock moves this much, then a round runs
		calls   int           // charge calls made so far, the buyer's first one included
	}
	tests := []struct {
		name   string
		token  string
		script []string
		rounds []round
		want   payments.Status // "": no payment (the claim was deleted)
		stuck  bool            // pending for good: no buyer's retry either
	}{
		{
			name: "charged, order live", token: "tok_visa", script: []string{lost},
			// Not before ReconcileAfter (2 minutes) since the attempt.
			rounds: []round{{0, 1}, {time.Minute, 1}, {time.Minute, 2}, {time.Hour, 2}},
			want:   payments.StatusSucceeded,
		},
		{
			name: "declined", token: "tok_chargeDeclined", script: []string{down},
			rounds: []round{{2 * time.Minute, 2}, {5 * time.Minute, 2}},
			want:   "",
		},
		{
			name: "failing for a while", token: "tok_visa", script: []string{lost, down, lost},
			rounds: []round{
				{2 * time.Minute, 2}, // 2 min old: due, still down
				{time.Minute, 2},     // the wait is now as long as the claim has lived: 2 min
				{time.Minute, 3},     // lost again, at 4 min old
				{3 * time.Minute, 3}, // next after 4 more minutes
				{time.Minute, 4},     // answered
			},
			want: payments.StatusSucceeded,
		},
		{
			name: "still failing", token: "tok_visa", script: []string{lost, lost},
			rounds: []round{{2 * time.Minute, 2}, {time.Minute, 2}},
			want:   payments.StatusPending,
		},
		{
			// The provider may have forgotten the key: a replay could
			// charge again. Left to a person (an error log, the gauge).
			name: "too old to replay", token: "tok_visa", script: []string{lost},
			rounds: []round{{23 * time.Hour, 1}, {2 * time.Hour, 1}},
			want:   payments.StatusPending, stuck: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				p := newScripted(tc.script...)
				f := newFixture(t, db, p)
				f.sandbox = p.Sandbox
				ctx := context.Background()
				unknownOutcome(t, f, tc.token)
				for i, r := range tc.rounds {
					f.clock.Advance(r.advance)
					if err := f.svc.Reconcile(ctx); err != nil {
						t.Fatalf("round %d: %v", i, err)
					}
					if got := len(p.calls()); got != r.calls {
						t.Fatalf("round %d: %d charge calls, want %d", i, got, r.calls)
					}
				}
				for _, k := range p.calls() {
					if k != "charge-o-1-1" {
						t.Errorf("replayed under key %q, want the claim's charge-o-1-1", k)
					}
				}
				id, st := paymentOf(t, db, "o-1")
				if st != tc.want {
					t.Fatalf("payment is %q, want %q", st, tc.want)
				}
				if tc.stuck {
					return
				}
				alice := token(t, "alice")
				switch tc.want {
				case payments.StatusSucceeded:
					checkPaid(t, f, "o-1", id)
					return
				case payments.StatusPending:
					// The buyer comes back: the same key again, whatever the card.
					w := f.pay("o-1", "pm_card_visa", alice)
					if w.Code != http.StatusCreated {
						t.Fatalf("buyer's retry: %d %s", w.Code, w.Body)
					}
					if got := httpapitest.Decode[idBody](t, w).ID; got != id {
						t.Errorf("buyer's retry recorded payment %s, want the claim %s", got, id)
					}
					if k := p.calls()[len(p.calls())-1]; k != "charge-o-1-1" {
						t.Errorf("buyer's retry charged under %q, want charge-o-1-1", k)
					}
				case "":
					// Refused: nothing charged, the order payable with another card.
					if n := p.Charges(); n != 0 {
						t.Fatalf("%d charges for a declined card", n)
					}
					w := f.pay("o-1", "tok_visa", alice)
					if w.Code != http.StatusCreated {
						t.Fatalf("pay again: %d %s", w.Code, w.Body)
					}
					id = httpapitest.Decode[idBody](t, w).ID
				}
				checkPaid(t, f, "o-1", id)
				if n := p.Charges(); n != 1 {
					t.Errorf("charges = %d, want 1", n)
				}
			}, migs...)
		})
	}
}

// A claim held by a charge in flight is left alone, however old.
func TestReconcileLeavesHeldClaim(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		entered, release := make(chan struct{}), make(chan struct{})
		first := true
		p := newScripted()
		hp := &hookProvider{Provider: p, before: func(context.Context, payments.ChargeRequest) error {
			if first {
				first = false
				close(entered)
				<-release
			}
			return nil
		}}
		f := newFixture(t, db, hp)
		f.sandbox = p.Sandbox
		// Due before its lease runs out: only the lease keeps the
		// reconciler off.
		f.reconfigure(t, hp, payments.Config{ReconcileAfter: time.Minute})
		f.addOrder(t, "o-1", "alice", 2000)
		done := make(chan int)
		go func() { done <- f.pay("o-1", "tok_visa", token(t, "alice")).Code }()
		<-entered
		f.clock.Advance(time.Minute + 59*time.Second) // within the lease
		if err := f.svc.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		payments.ReconcileCancelled(f.svc, context.Background(), "o-1")
		close(release)
		if code := <-done; code != http.StatusCreated {
			t.Fatalf("pay: %d", code)
		}
		if n := len(p.calls()); n != 1 {
			t.Errorf("%d charge calls, want only the buyer's", n)
		}
	}, migs...)
}

// Several replicas reconcile the same claim at the same moment, in rounds
// and on the order's cancellation (which does not wait for the claim's
// turn): one of them replays it, once.
func TestReconcileConcurrent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		p := newScripted(lost)
		f := newFixture(t, db, p)
		f.sandbox = p.Sandbox
		unknownOutcome(t, f, "tok_visa")
		f.clock.Advance(5 * time.Minute)

		// The replica that replays is held inside the provider until every
		// other one has finished its round.
		entered, release := make(chan struct{}, 8), make(chan struct{})
		p.mu.Lock()
		p.hold = func() { entered <- struct{}{}; <-release }
		p.mu.Unlock()
		log := natsbustest.Logger(t)
		const n = 4
		var (
			wg       sync.WaitGroup
			finished atomic.Int32
			start    = make(chan struct{})
		)
		for i := range n {
			svc := payments.New(db, outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{}), log,
				payments.Config{Provider: p, Now: f.clock.Now})
			wg.Go(func() {
				<-start
				if i%2 == 0 {
					if err := svc.Reconcile(context.Background()); err != nil {
						t.Error(err)
					}
				} else {
					payments.ReconcileCancelled(svc, context.Background(), "o-1")
				}
				finished.Add(1)
			})
		}
		close(start)
		<-entered
		natsbustest.Eventually(t, 10*time.Second, "the other replicas to finish", func() bool { return finished.Load() == n-1 })
		close(release)
		wg.Wait()
		if got := len(p.calls()); got != 2 {
			t.Errorf("%d charge calls, want the buyer's and one replay", got)
		}
		id, _ := paymentOf(t, db, "o-1")
		checkPaid(t, f, "o-1", id)
		if c := p.Charges(); c != 1 {
			t.Errorf("charges = %d, want 1", c)
		}
	}, migs...)
}

// order.cancelled resolves the order's pending claim at once, without
// waiting for its turn: the charge that went through is recorded and
// announced (orders then asks for the refund), and refunded.
func TestReconcileOnCancel(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		p := newScripted(lost)
		f := newFixture(t, db, p)
		f.sandbox = p.Sandbox
		bus := listening(t, f)
		publish(t, bus, orderCreated("o-1", "alice", 2000))
		settled(t, bus, events.SubjectOrderCreated)
		if w := f.pay("o-1", "tok_visa", token(t, "alice")); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("pay: %d %s, want 503", w.Code, w.Body)
		}
		// An order with no claim is cancelled too: nothing to charge.
		publish(t, bus, orderCreated("o-2", "alice", 2000))
		settled(t, bus, events.SubjectOrderCreated)
		publish(t, bus, events.OrderCancelled{ID: "o-1", Version: 1, Ticket: events.OrderTicket{ID: "t-o-1"}})
		publish(t, bus, events.OrderCancelled{ID: "o-2", Version: 1, Ticket: events.OrderTicket{ID: "t-o-2"}})
		settled(t, bus, events.SubjectOrderCancelled)
		id, st := paymentOf(t, db, "o-1")
		if st != payments.StatusSucceeded {
			t.Fatalf("payment after the cancel is %q, want succeeded", st)
		}
		checkPaid(t, f, "o-1", id)
		if n := len(p.calls()); n != 2 {
			t.Errorf("%d charge calls, want 2", n)
		}
		// What orders answers to a payment of a cancelled order.
		pay, err := f.svc.Payment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, bus, events.OrderRefundRequested{OrderID: "o-1", PaymentID: id, StripeID: pay.StripeID})
		settled(t, bus, events.SubjectOrderRefundRequested)
		if _, st := paymentOf(t, db, "o-1"); st != payments.StatusRefunded || !p.Refunded(pay.StripeID) {
			t.Errorf("payment is %q (refunded by the provider: %v), want refunded", st, p.Refunded(pay.StripeID))
		}
	}, migs...)
}

// RunReconciler rounds on its ticker and stops with its context; the
// gauge counts the claims older than ReconcileAfter.
func TestRunReconciler(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		p := newScripted(lost)
		f := newFixture(t, db, p)
		f.sandbox = p.Sandbox
		f.reconfigure(t, p, payments.Config{ReconcileEvery: 5 * time.Millisecond, ReconcileAfter: time.Minute})
		f.addOrder(t, "o-1", "alice", 2000)
		if _, err := f.svc.Pay(context.Background(), "alice", "o-1", "tok_visa"); !errors.Is(err, payments.ErrProviderUnavailable) {
			t.Fatalf("pay: %v, want ErrProviderUnavailable", err)
		}
		pending := func() int {
			n, err := f.svc.PendingClaims(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := pending(); n != 0 {
			t.Errorf("pending claims = %d right after the attempt, want 0", n)
		}
		// Counted before the reconciler starts: once it runs it may charge
		// the claim at any moment.
		f.clock.Advance(time.Minute)
		if n := pending(); n != 1 {
			t.Errorf("pending claims = %d a minute on, want 1", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.svc.RunReconciler(ctx); close(done) }()
		natsbustest.Eventually(t, 10*time.Second, "the claim to be charged", func() bool {
			_, st := paymentOf(t, db, "o-1")
			return st == payments.StatusSucceeded
		})
		cancel()
		<-done
		if n := pending(); n != 0 {
			t.Errorf("pending claims = %d once charged, want 0", n)
		}
		id, _ := paymentOf(t, db, "o-1")
		checkPaid(t, f, "o-1", id)
	}, migs...)
}

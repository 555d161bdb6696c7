package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// payoutFixture is a fixture with an event ev-1 (ends at t0+3h) whose
// sales, and free-form ones, are paid by "buyer".
type payoutFixture struct {
	*fixture
	t0 time.Time
}

func newPayoutFixture(t *testing.T, db *sqldb.DB, provider payments.Provider) *payoutFixture {
	t.Helper()
	f := &payoutFixture{fixture: newFixture(t, db, provider)}
	f.t0 = f.clock.Now()
	f.event(t, events.EventState{ID: "ev-1", StartsAt: f.t0.Add(time.Hour), EndsAt: f.t0.Add(3 * time.Hour)}, true)
	return f
}

func (f *payoutFixture) event(t *testing.T, ev events.EventState, created bool) {
	t.Helper()
	if err := f.svc.ApplyEvent(context.Background(), ev, created); err != nil {
		t.Fatal(err)
	}
}

// sell adds an order of seller's proceeds and pays it; it returns the
// payment id.
func (f *payoutFixture) sell(t *testing.T, id, seller, payee, eventID string, price money.Cents) string {
	t.Helper()
	err := f.svc.AddOrder(context.Background(), payments.Order{ID: id, UserID: "buyer", Price: price, Fee: 150,
		SellerID: seller, Payee: payee, EventID: eventID, Status: events.StatusCreated,
		ExpiresAt: f.clock.Now().Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Pay(context.Background(), "buyer", id, "tok_visa")
	if err != nil {
		t.Fatalf("pay %s: %v", id, err)
	}
	return p.ID
}

func (f *payoutFixture) connect(t *testing.T, userID string) {
	t.Helper()
	if _, _, err := f.svc.ConnectAccount(context.Background(), userID, userID+"@example.com", "", ""); err != nil {
		t.Fatal(err)
	}
}

func (f *payoutFixture) run(t *testing.T, eventID string) payments.PayoutRun {
	t.Helper()
	r, err := f.svc.RunPayouts(context.Background(), eventID)
	if err != nil {
		t.Fatalf("run payouts %q: %v", eventID, err)
	}
	return r
}

// transfersByOrder counts the sandbox's transfers per order.
func transfersByOrder(s *payments.Sandbox) map[string]int {
	n := map[string]int{}
	for _, tr := range s.Transfers() {
		n[tr.TransferGroup]++
	}
	return n
}

// A run pays each due order once, to its payee's account, from its charge,
// keyed by its ledger entry; nothing before the event's end plus the
// hold; never a disputed order, a cancelled event's, a refunded one, or a
// payee without an account (until they connect one); and the books still
// balance, the balance moving from available to paid.
func TestPayoutRunPaysDueOrdersOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newPayoutFixture(t, db, nil)
		ctx := context.Background()
		f.event(t, events.EventState{ID: "ev-gone", StartsAt: f.t0.Add(time.Hour), EndsAt: f.t0.Add(2 * time.Hour)}, true)
		for _, u := range []string{"org", "sam"} {
			f.connect(t, u)
		}
		f.sell(t, "o-primary", "org", events.PayeeOrganizer, "ev-1", 3000)
		resale := f.sell(t, "o-resale", "sam", events.PayeeSeller, "ev-1", 2000)
		f.sell(t, "o-free", "sam", events.PayeeSeller, "", 1000)
		f.sell(t, "o-late", "lee", events.PayeeSeller, "ev-1", 500) // lee has no account yet
		f.sell(t, "o-disputed", "sam", events.PayeeSeller, "ev-1", 700)
		f.sell(t, "o-cancelled", "sam", events.PayeeSeller, "ev-gone", 800)
		refunded := f.sell(t, "o-refunded", "sam", events.PayeeSeller, "ev-1", 900)
		f.dispute(t, "o-disputed")
		f.event(t, events.EventState{ID: "ev-gone", Version: 1, StartsAt: f.t0.Add(time.Hour),
			EndsAt: f.t0.Add(2 * time.Hour), Status: events.EventStatusCancelled}, false)
		if err := f.svc.Refund(ctx, refunded); err != nil {
			t.Fatal(err)
		}

		// The event has ended, the hold has not passed.
		f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold - time.Minute)
		if r := f.run(t, "ev-1"); r.Paid != 0 {
			t.Fatalf("before the hold: paid %d", r.Paid)
		}
		f.clock.Advance(2 * time.Minute)
		// The event's run pays the event's orders, not the free-form one.
		if r := f.run(t, "ev-1"); r.Paid != 2 || r.Amount != 5000 {
			t.Fatalf("event run = %+v, want 2 paid, 5000 cents", r)
		}
		if r := f.run(t, "ev-1"); r.Paid != 0 {
			t.Fatalf("second event run paid %d again", r.Paid)
		}
		if r := f.run(t, ""); r.Paid != 1 || r.Amount != 1000 {
			t.Fatalf("sweep = %+v, want the free-form sale", r)
		}
		// lee connects late: the next sweep pays them.
		f.connect(t, "lee")
		if r := f.run(t, ""); r.Paid != 1 || r.Amount != 500 {
			t.Fatalf("sweep after lee connected = %+v", r)
		}

		got := transfersByOrder(f.sandbox)
		want := map[string]int{"o-primary": 1, "o-resale": 1, "o-free": 1, "o-late": 1}
		if len(got) != len(want) {
			t.Errorf("transfers by order = %v, want %v", got, want)
		}
		for id, n := range want {
			if got[id] != n {
				t.Errorf("order %s: %d transfers, want %d", id, got[id], n)
			}
		}
		p, err := f.svc.Payment(ctx, resale)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range f.sandbox.Transfers() {
			if tr.TransferGroup == "o-resale" {
				if tr.ChargeID != p.StripeID || tr.IdempotencyKey != payments.PayoutID("o-resale") || tr.Amount != 2000 {
					t.Errorf("resale transfer = %+v, want source %s, key %s, 2000 cents", tr, p.StripeID, payments.PayoutID("o-resale"))
				}
			}
		}
		if b := f.balance(t, token(t, "sam")); b["paid"] != "30" || b["available"] != "0" || b["held"] != "15" {
			t.Errorf("sam's balance = %v, want $30 paid, the disputed $7 and the cancelled event's $8 held", b)
		}
		if n := count(t, db, `SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'`); n != 4 {
			t.Errorf("%d payout ledger transactions, want 4", n)
		}
		if r := books(t, db); !r.OK() {
			t.Errorf("books: %v", r.Problems)
		}
	}, migs...)
}

// flakyPayer makes the transfer at the sandbox and then reports an unknown
// outcome while fail is set: a run that died after the provider paid.
// With down set, it fails before the sandbox is reached: nothing moved.
type flakyPayer struct {
	*payments.Sandbox
	mu   sync.Mutex
	fail bool
	down bool
}

func (p *flakyPayer) Transfer(ctx context.Context, req payments.TransferRequest) (payments.Transfer, error) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		return payments.Transfer{}, errors.New("connection refused")
	}
	t, err := p.Sandbox.Transfer(ctx, req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil && p.fail {
		return payments.Transfer{}, errors.New("connection reset")
	}
	return t, err
}

func (p *flakyPayer) set(fail, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail, p.down = fail, down
}

// leftPending sells sam's o-1 of ev-1 for $20, lets it fall due and runs
// payouts with the provider failing: with moved the transfer goes through
// and its answer is lost, otherwise the provider is out of reach and
// nothing moves. The payout is left pending under its lease, and the
// provider answers again. It returns the order's payment id.
func leftPending(t *testing.T, db *sqldb.DB, moved bool) (*payoutFixture, *flakyPayer, string) {
	t.Helper()
	payer := &flakyPayer{Sandbox: payments.NewSandbox().(*payments.Sandbox)}
	payer.set(moved, !moved)
	f := newPayoutFixture(t, db, payer)
	f.connect(t, "sam")
	pay := f.sell(t, "o-1", "sam", events.PayeeSeller, "ev-1", 2000)
	f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold)
	if _, err := f.svc.RunPayouts(context.Background(), ""); !errors.Is(err, payments.ErrProviderUnavailable) {
		t.Fatalf("run with the provider failing = %v, want ErrProviderUnavailable", err)
	}
	payer.set(false, false)
	return f, payer, pay
}

// paidTimes checks that the provider made n transfers and the ledger
// holds n payouts.
func paidTimes(t *testing.T, db *sqldb.DB, payer *flakyPayer, n int) {
	t.Helper()
	if got := len(payer.Transfers()); got != n {
		t.Errorf("%d transfers at the provider, want %d", got, n)
	}
	if got := count(t, db, `SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'`); got != n {
		t.Errorf("%d payouts in the ledger, want %d", got, n)
	}
}

// dispute records a dispute of the order, as the webhook does.
func (f *payoutFixture) dispute(t *testing.T, orderID string) {
	t.Helper()
	ctx := context.Background()
	err := f.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO disputes (id, payment_id, order_id, charge_id, amount, reason, created_at)
			VALUES ($1, 'x', $2, 'x', 850, 'fraudulent', 0)`, "dp-"+orderID, orderID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A transfer whose outcome is lost stays pending; no run replays it while
// its lease holds, and the replay after it gets the first transfer back:
// one transfer at the provider, one payout in the ledger.
func TestPayoutReplayPaysOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, payer, _ := leftPending(t, db, true)
		if r := f.run(t, ""); r.Paid != 0 {
			t.Fatalf("a run inside the lease paid %d", r.Paid)
		}
		f.clock.Advance(3 * time.Minute)
		if r := f.run(t, ""); r.Paid != 1 {
			t.Fatalf("the replay paid %d, want 1", r.Paid)
		}
		paidTimes(t, db, payer, 1)
		if r := books(t, db); !r.OK() {
			t.Errorf("books: %v", r.Problems)
		}
	}, migs...)
}

// A process that died in its run left a payout pending under its lease;
// the sole process of the database, started again, releases the lease and
// replays it at once, under the same key: still one transfer.
func TestReleasePayoutLeases(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, payer, _ := leftPending(t, db, true)
		if n, err := f.svc.ReleasePayoutLeases(context.Background()); err != nil || n != 1 {
			t.Fatalf("released %d, %v; want 1", n, err)
		}
		if r := f.run(t, ""); r.Paid != 1 {
			t.Fatalf("the run after the release paid %d, want 1", r.Paid)
		}
		if n, err := f.svc.ReleasePayoutLeases(context.Background()); err != nil || n != 0 {
			t.Errorf("released %d, %v after the payout; want none", n, err)
		}
		paidTimes(t, db, payer, 1)
	}, migs...)
}

// An order refunded after its payout (an event cancelled late) gives the
// buyer everything back; the payee's share is the platform's loss, not a
// payable paid out beyond what was collected, so the books check.
func TestRefundAfterPayoutIsPlatformLoss(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newPayoutFixture(t, db, nil)
		f.connect(t, "sam")
		pay := f.sell(t, "o-1", "sam", events.PayeeSeller, "", 2000)
		f.clock.Advance(payments.DefaultPayoutHold)
		if r := f.run(t, ""); r.Paid != 1 {
			t.Fatalf("paid %d", r.Paid)
		}
		if err := f.svc.Refund(context.Background(), pay); err != nil {
			t.Fatal(err)
		}
		var losses int64
		if err := db.Read().QueryRow(`SELECT COALESCE(sum(amount), 0) FROM ledger_entries WHERE account = $1`,
			payments.AccountRefundLosses).Scan(&losses); err != nil {
			t.Fatal(err)
		}
		if losses != 2000 {
			t.Errorf("refund losses = %d, want 2000", losses)
		}
		if b := f.balance(t, token(t, "sam")); b["paid"] != "20" || b["available"] != "0" || b["held"] != "0" {
			t.Errorf("sam's balance = %v", b)
		}
		if r := books(t, db); !r.OK() {
			t.Errorf("books: %v", r.Problems)
		}
	}, migs...)
}

// Moving an event moves when its sales are due; the balance endpoint says
// held before that.
func TestPayoutFollowsEventDate(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newPayoutFixture(t, db, nil)
		f.connect(t, "sam")
		f.sell(t, "o-1", "sam", events.PayeeSeller, "ev-1", 2000)
		f.event(t, events.EventState{ID: "ev-1", Version: 1, StartsAt: f.t0.Add(24 * time.Hour),
			EndsAt: f.t0.Add(26 * time.Hour)}, false)
		f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold)
		if r := f.run(t, "ev-1"); r.Paid != 0 {
			t.Fatalf("paid %d before the moved event ended", r.Paid)
		}
		f.clock.Advance(23 * time.Hour)
		if r := f.run(t, "ev-1"); r.Paid != 1 {
			t.Fatalf("paid %d after the moved event's end plus hold", r.Paid)
		}
		w := request(f.handler, http.MethodGet, "/api/payments/balance", "", token(t, "sam"))
		if w.Code != http.StatusOK {
			t.Fatalf("balance = %d", w.Code)
		}
	}, migs...)
}

// payoutItem is one entry of GET /api/payments/payouts.
type payoutItem struct {
	OrderID    string          `json:"orderId"`
	Amount     json.RawMessage `json:"amount"`
	Status     string          `json:"status"`
	TransferID string          `json:"transferId"`
	PaidAt     *time.Time      `json:"paidAt"`
}

// payouts reads a page of GET /api/payments/payouts as tok: the items and
// the Link header.
func (f *fixture) payouts(t *testing.T, tok, query string) ([]payoutItem, string) {
	t.Helper()
	w := request(f.handler, http.MethodGet, "/api/payments/payouts"+query, "", tok)
	if w.Code != http.StatusOK {
		t.Fatalf("payouts%s = %d %s", query, w.Code, w.Body)
	}
	var out []payoutItem
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out == nil {
		t.Fatalf("payouts%s: %v in %s", query, err, w.Body)
	}
	return out, w.Header().Get("Link")
}

// A payee's payouts, newest first: each of their paid orders once, with
// its amount in dollars, transfer and time, one whose transfer is in
// doubt pending; nobody else's. Pages follow the Link header; bad paging
// is a 400 on its field, and signed out a 401.
func TestPayoutsList(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		payer := &flakyPayer{Sandbox: payments.NewSandbox().(*payments.Sandbox)}
		f := newPayoutFixture(t, db, payer)
		for _, u := range []string{"org", "sam"} {
			f.connect(t, u)
		}
		sam, org, bob := token(t, "sam"), token(t, "org"), token(t, "bob")
		f.sell(t, "o-a", "sam", events.PayeeSeller, "ev-1", 2000)
		f.sell(t, "o-b", "sam", events.PayeeSeller, "ev-1", 1250)
		f.sell(t, "o-org", "org", events.PayeeOrganizer, "ev-1", 3000)
		if got, _ := f.payouts(t, sam, ""); len(got) != 0 {
			t.Fatalf("payouts before any run = %+v", got)
		}
		f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold)
		paidAt := f.clock.Now()
		if r := f.run(t, "ev-1"); r.Paid != 3 {
			t.Fatalf("run = %+v", r)
		}
		// A later free-form sale whose transfer's outcome is lost.
		f.sell(t, "o-c", "sam", events.PayeeSeller, "", 500)
		f.clock.Advance(payments.DefaultPayoutHold)
		payer.mu.Lock()
		payer.fail = true
		payer.mu.Unlock()
		if _, err := f.svc.RunPayouts(context.Background(), ""); !errors.Is(err, payments.ErrProviderUnavailable) {
			t.Fatalf("run with the provider failing = %v", err)
		}

		got, link := f.payouts(t, sam, "")
		if link != "" {
			t.Errorf("a whole list has a next page: %q", link)
		}
		want := []struct{ order, amount, status string }{{"o-c", "5", "pending"}, {"o-b", "12.5", "paid"}, {"o-a", "20", "paid"}}
		if len(got) != len(want) {
			t.Fatalf("sam's payouts = %+v, want %v", got, want)
		}
		for i, w := range want {
			p := got[i]
			if p.OrderID != w.order || string(p.Amount) != w.amount || p.Status != w.status {
				t.Errorf("payout %d = %+v %s, want %v", i, p, p.Amount, w)
			}
			paid := w.status == "paid"
			if (p.TransferID != "") != paid || (p.PaidAt != nil) != paid || (paid && !p.PaidAt.Equal(paidAt)) {
				t.Errorf("payout %s: transfer %q at %v, want one at %v only when paid", p.OrderID, p.TransferID, p.PaidAt, paidAt)
			}
		}
		if got, _ := f.payouts(t, org, ""); len(got) != 1 || got[0].OrderID != "o-org" || string(got[0].Amount) != "30" {
			t.Errorf("org's payouts = %+v", got)
		}
		if got, _ := f.payouts(t, bob, ""); len(got) != 0 {
			t.Errorf("bob's payouts = %+v", got)
		}

		// Pages of two: the Link header carries on after the last.
		page, link := f.payouts(t, sam, "?limit=2")
		if len(page) != 2 || page[1].OrderID != "o-b" || link != `</api/payments/payouts?after=o-b&limit=2>; rel="next"` {
			t.Fatalf("first page = %+v, link %q", page, link)
		}
		page, link = f.payouts(t, sam, "?after=o-b&limit=2")
		if len(page) != 1 || page[0].OrderID != "o-a" || link != "" {
			t.Errorf("second page = %+v, link %q", page, link)
		}
		// Another payee's payout is no place in sam's list.
		if page, _ := f.payouts(t, sam, "?after=o-org"); len(page) != 0 {
			t.Errorf("after someone else's payout = %+v", page)
		}

		for _, tc := range []struct {
			name, query, as string
			want            int
			field           string
		}{
			{"signed out", "", "", 401, ""},
			{"limit 0", "?limit=0", sam, 400, "limit"},
			{"limit above a page", "?limit=101", sam, 400, "limit"},
			{"limit not a number", "?limit=two", sam, 400, "limit"},
			{"cursor not an id", "?after=o%27%20OR%201=1", sam, 400, "after"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := request(f.handler, http.MethodGet, "/api/payments/payouts"+tc.query, "", tc.as)
				if w.Code != tc.want {
					t.Fatalf("= %d %s, want %d", w.Code, w.Body, tc.want)
				}
				var e errorBody
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Field != tc.field {
					t.Errorf("errors = %s, want field %q", w.Body, tc.field)
				}
			})
		}
	}, migs...)
}

// ticketing check names a payout the ledger and the payouts table disagree
// on, and one larger than what its charge owed the payee.
func TestCheckCatchesPayoutFaults(t *testing.T) {
	cases := []struct {
		name, sql, want string
	}{
		{"ledger payout without a paid row", `UPDATE payouts SET status = 'pending'`, "payout of order o-1 (pending) has 1 payout entries"},
		{"paid row without a ledger payout", `DELETE FROM ledger_entries WHERE transaction_id = 'payout-o-1'; DELETE FROM ledger_transactions WHERE id = 'payout-o-1'`,
			"payout of order o-1 (paid) has 0 payout entries"},
		{"paid out more than owed", `UPDATE ledger_entries SET amount = amount * 2 WHERE transaction_id = 'payout-o-1'`,
			"order o-1 paid out 4000 cents, more than the 2000 its charge owed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				f := newPayoutFixture(t, db, nil)
				f.connect(t, "sam")
				f.sell(t, "o-1", "sam", events.PayeeSeller, "", 2000)
				f.clock.Advance(payments.DefaultPayoutHold)
				if r := f.run(t, ""); r.Paid != 1 {
					t.Fatalf("paid %d", r.Paid)
				}
				if r := books(t, db); !r.OK() {
					t.Fatalf("books before: %v", r.Problems)
				}
				err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
					for _, q := range strings.Split(tc.sql, "; ") {
						if _, err := tx.ExecContext(context.Background(), q); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				r := books(t, db)
				if !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
					t.Errorf("problems %q, want one saying %q", r.Problems, tc.want)
				}
			}, migs...)
		})
	}
}

// A pending payout whose order should no longer be paid (disputed,
// refunded, its event cancelled since the claim) is looked up before any
// replay: a transfer that went through is recorded, one that never did is
// dropped and never made. One claimed so long ago that the provider may
// have forgotten its key is looked up too, and made if none exists.
func TestPendingPayoutLookedUpBeforeReplay(t *testing.T) {
	cases := []struct {
		name string
		// moved: the first attempt's transfer went through (its answer
		// lost); otherwise the provider was out of reach.
		moved bool
		// then happens to the order between the attempts.
		then         string
		wantPaid     int
		wantStopped  int
		wantTransfer int
	}{
		{"disputed, nothing moved", false, "dispute", 0, 1, 0},
		{"disputed, transfer made", true, "dispute", 1, 0, 1},
		{"refunded, nothing moved", false, "refund", 0, 1, 0},
		{"refunded, transfer made", true, "refund", 1, 0, 1},
		{"event cancelled, nothing moved", false, "cancel", 0, 1, 0},
		{"claimed a day ago, nothing moved", false, "day", 1, 0, 1},
		{"claimed a day ago, transfer made", true, "day", 1, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				ctx := context.Background()
				f, payer, pay := leftPending(t, db, tc.moved)
				switch tc.then {
				case "dispute":
					f.dispute(t, "o-1")
				case "refund":
					if err := f.svc.Refund(ctx, pay); err != nil {
						t.Fatal(err)
					}
				case "cancel":
					f.event(t, events.EventState{ID: "ev-1", Version: 1, StartsAt: f.t0.Add(time.Hour),
						EndsAt: f.t0.Add(3 * time.Hour), Status: events.EventStatusCancelled}, false)
				case "day":
					f.clock.Advance(24 * time.Hour)
				}
				f.clock.Advance(3 * time.Minute)
				r := f.run(t, "")
				if r.Paid != tc.wantPaid || r.Stopped != tc.wantStopped {
					t.Errorf("replay run = %+v, want %d paid, %d stopped", r, tc.wantPaid, tc.wantStopped)
				}
				paidTimes(t, db, payer, tc.wantTransfer)
				if n := count(t, db, `SELECT count(*) FROM payouts WHERE status = 'pending'`); n != 0 {
					t.Errorf("%d payouts still pending", n)
				}
				if r := f.run(t, ""); r.Paid != 0 {
					t.Errorf("a later run paid %d", r.Paid)
				}
				if r := books(t, db); !r.OK() {
					t.Errorf("books: %v", r.Problems)
				}
			}, migs...)
		})
	}
}

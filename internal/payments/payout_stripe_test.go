package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// stripePayouts makes payout accounts and transfers at Stripe (stripe-mock
// behind a recorder) and charges at the sandbox, under PaymentIntent ids:
// stripe-mock's PaymentIntents never succeed, so a sale has to be paid
// elsewhere to fall due. Its accounts are enabled, as after onboarding.
type stripePayouts struct {
	*payments.Sandbox
	stripe payments.Provider
}

func (p *stripePayouts) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	c, err := p.Sandbox.Charge(ctx, req)
	if err != nil {
		return c, err
	}
	return payments.Charge{ID: "pi_" + strings.TrimPrefix(c.ID, "sandbox_ch_")}, nil
}

func (p *stripePayouts) CreateAccount(ctx context.Context, req payments.AccountRequest) (payments.ProviderAccount, error) {
	a, err := p.stripe.(payments.AccountProvider).CreateAccount(ctx, req)
	a.Status = payments.AccountEnabled
	return a, err
}

func (p *stripePayouts) AccountState(_ context.Context, id string) (payments.ProviderAccount, error) {
	return payments.ProviderAccount{ID: id, Status: payments.AccountEnabled}, nil
}

func (p *stripePayouts) Transfer(ctx context.Context, req payments.TransferRequest) (payments.Transfer, error) {
	return p.stripe.(payments.Payer).Transfer(ctx, req)
}

// A payout run with the Stripe provider sends POST /v1/transfers with the
// order's price, its payee's account, the PaymentIntent's latest charge
// as the source, the order as the transfer group, and the ledger entry's
// id as the idempotency key; a run whose answer was lost (stripe-mock made
// the transfer) is replayed later under the same key, and recorded once.
func TestStripePayoutRequests(t *testing.T) {
	rec := payments.NewStripeRecorder(t)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		provider := &stripePayouts{Sandbox: payments.NewSandbox().(*payments.Sandbox), stripe: payments.NewStripe("sk_test_123", rec.URL)}
		f := newPayoutFixture(t, db, provider)
		ctx := context.Background()
		f.connect(t, "sam")
		order := "o-" + strings.ReplaceAll(t.Name(), "/", "-")
		paymentID := f.sell(t, order, "sam", events.PayeeSeller, "ev-1", 2000)
		pay, err := f.svc.Payment(ctx, paymentID)
		if err != nil {
			t.Fatal(err)
		}
		acct := count(t, db, `SELECT count(*) FROM payout_accounts WHERE user_id = 'sam' AND account_id LIKE 'acct_%'`)
		if acct != 1 {
			t.Fatalf("sam has %d Stripe accounts, want 1", acct)
		}
		var destination string
		if err := db.Read().QueryRow(`SELECT account_id FROM payout_accounts WHERE user_id = 'sam'`).Scan(&destination); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(3*time.Hour + payments.DefaultPayoutHold)

		isTransfer := func(r payments.StripeRequest) bool { return r.Method == "POST" && r.Path == "/v1/transfers" }
		before := len(rec.Requests())
		rec.DropAnswers(isTransfer)
		if r, err := f.svc.RunPayouts(ctx, "ev-1"); !errors.Is(err, payments.ErrProviderUnavailable) {
			t.Fatalf("run with the answers lost = %+v, %v; want ErrProviderUnavailable", r, err)
		}
		rec.DropAnswers(nil)
		f.clock.Advance(3 * time.Minute) // past the lease
		if r := f.run(t, ""); r.Paid != 1 || r.Amount != 2000 {
			t.Fatalf("replay = %+v, want 1 paid, 2000 cents", r)
		}

		var transfers []payments.StripeRequest
		source := ""
		for _, r := range rec.Requests()[before:] {
			switch {
			case isTransfer(r):
				transfers = append(transfers, r)
			case r.Method == "GET" && r.Path == "/v1/payment_intents/"+pay.StripeID && source == "":
				source = latestCharge(t, rec.URL, pay.StripeID)
			}
		}
		if !strings.HasPrefix(source, "ch_") {
			t.Fatalf("the run did not read the PaymentIntent %s's charge (latest charge %q)", pay.StripeID, source)
		}
		// The lost run's (with stripe-go's retries of it) and the replay.
		if len(transfers) < 2 {
			t.Fatalf("%d transfer requests, want the lost one and its replay", len(transfers))
		}
		for i, r := range transfers {
			want := map[string]string{"amount": "2000", "currency": "usd", "destination": destination,
				"source_transaction": source, "transfer_group": order, "metadata[order_id]": order}
			for k, v := range want {
				if got := r.Form.Get(k); got != v {
					t.Errorf("transfer request %d: %s = %q, want %q", i, k, got, v)
				}
			}
			if r.Key != payments.PayoutID(order) {
				t.Errorf("transfer request %d: Idempotency-Key %q, want %q", i, r.Key, payments.PayoutID(order))
			}
		}
		var status, transferID string
		err = db.Read().QueryRow(`SELECT status, transfer_id FROM payouts WHERE order_id = $1`, order).Scan(&status, &transferID)
		if err != nil {
			t.Fatal(err)
		}
		if status != payments.PayoutPaid || !strings.HasPrefix(transferID, "tr_") {
			t.Errorf("payout %s, transfer %q; want paid with Stripe's transfer", status, transferID)
		}
		if n := count(t, db, `SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'`); n != 1 {
			t.Errorf("%d payouts in the ledger, want 1", n)
		}
	}, migs...)
}

// latestCharge is the id of the latest charge of the PaymentIntent id as
// stripe-mock answers it (expanded: unexpanded, its fixture has none).
func latestCharge(t *testing.T, base, id string) string {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/payment_intents/"+id+"?expand[]=latest_charge", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pi struct {
		LatestCharge struct {
			ID string `json:"id"`
		} `json:"latest_charge"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&pi); err != nil {
		t.Fatal(err)
	}
	return pi.LatestCharge.ID
}

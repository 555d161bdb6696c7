package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

type accountBody struct {
	Provider      string `json:"provider"`
	Status        string `json:"status"`
	OnboardingURL string `json:"onboardingUrl"`
}

func decodeAccount(t *testing.T, body string) accountBody {
	t.Helper()
	var a accountBody
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("account body %s: %v", body, err)
	}
	return a
}

// The sandbox's simulated account is enabled at once; a user has one.
func TestPayoutAccountSandbox(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		sam, bob := token(t, "sam"), token(t, "bob")

		if w := request(f.handler, http.MethodGet, "/api/payments/accounts/me", "", sam); w.Code != http.StatusNotFound {
			t.Fatalf("me before connecting = %d %s, want 404", w.Code, w.Body)
		}
		w := request(f.handler, http.MethodPost, "/api/payments/accounts", `{}`, sam)
		if w.Code != http.StatusCreated {
			t.Fatalf("connect = %d %s", w.Code, w.Body)
		}
		if a := decodeAccount(t, w.Body.String()); a != (accountBody{Provider: "sandbox", Status: "enabled"}) {
			t.Errorf("connect = %+v", a)
		}
		// Again: the same account, not a second one.
		w = request(f.handler, http.MethodPost, "/api/payments/accounts", `{"returnUrl":"http://localhost/payouts"}`, sam)
		if w.Code != http.StatusOK || decodeAccount(t, w.Body.String()).Status != "enabled" {
			t.Errorf("connect again = %d %s, want 200 enabled", w.Code, w.Body)
		}
		if n := f.sandbox.Accounts(); n != 1 {
			t.Errorf("sandbox accounts = %d, want 1", n)
		}
		if n := count(t, db, `SELECT count(*) FROM payout_accounts WHERE user_id = 'sam'`); n != 1 {
			t.Errorf("stored accounts = %d, want 1", n)
		}
		w = request(f.handler, http.MethodGet, "/api/payments/accounts/me", "", sam)
		if w.Code != http.StatusOK || decodeAccount(t, w.Body.String()) != (accountBody{Provider: "sandbox", Status: "enabled"}) {
			t.Errorf("me = %d %s", w.Code, w.Body)
		}
		// Another user has none.
		if w := request(f.handler, http.MethodGet, "/api/payments/accounts/me", "", bob); w.Code != http.StatusNotFound {
			t.Errorf("bob's = %d %s, want 404", w.Code, w.Body)
		}

		for _, tc := range []struct {
			name, method, path, body, as string
			want                         int
			field                        string
		}{
			{"signed out connect", http.MethodPost, "/api/payments/accounts", `{}`, "", 401, ""},
			{"signed out me", http.MethodGet, "/api/payments/accounts/me", "", "", 401, ""},
			{"signed out balance", http.MethodGet, "/api/payments/balance", "", "", 401, ""},
			{"empty body", http.MethodPost, "/api/payments/accounts", ` `, bob, 400, ""},
			{"bad json", http.MethodPost, "/api/payments/accounts", `{"returnUrl":`, bob, 400, ""},
			{"wrong type", http.MethodPost, "/api/payments/accounts", `{"returnUrl":1}`, bob, 400, "returnUrl"},
			{"relative return", http.MethodPost, "/api/payments/accounts", `{"returnUrl":"/payouts"}`, bob, 400, "returnUrl"},
			{"script refresh", http.MethodPost, "/api/payments/accounts", `{"refreshUrl":"javascript:alert(1)"}`, bob, 400, "refreshUrl"},
			{"long return", http.MethodPost, "/api/payments/accounts", `{"returnUrl":"http://x/` + strings.Repeat("a", 3000) + `"}`, bob, 400, "returnUrl"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := request(f.handler, tc.method, tc.path, tc.body, tc.as)
				if w.Code != tc.want {
					t.Fatalf("= %d %s, want %d", w.Code, w.Body, tc.want)
				}
				if tc.field != "" {
					var e errorBody
					json.Unmarshal(w.Body.Bytes(), &e)
					if len(e.Errors) == 0 || e.Errors[0].Field != tc.field {
						t.Errorf("errors = %s, want field %s", w.Body, tc.field)
					}
				}
			})
		}
		if n := f.sandbox.Accounts(); n != 1 {
			t.Errorf("sandbox accounts after bad requests = %d, want 1", n)
		}
	}, migs...)
}

// Stripe Connect Express against stripe-mock: the account is pending with
// an onboarding link (stripe-mock's account has neither details submitted
// nor payouts enabled) until account.updated says it is enabled.
func TestPayoutAccountStripe(t *testing.T) {
	mock := payments.StripeMock(t)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, payments.NewStripe("sk_test_123", mock))
		sam := token(t, "sam")
		w := request(f.handler, http.MethodPost, "/api/payments/accounts", `{}`, sam)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "returnUrl") || !strings.Contains(w.Body.String(), "refreshUrl") {
			t.Errorf("connect without URLs = %d %s, want 400 naming both", w.Code, w.Body)
		}
		body := `{"returnUrl":"http://localhost:8080/payouts","refreshUrl":"http://localhost:8080/payouts/onboard"}`
		w = request(f.handler, http.MethodPost, "/api/payments/accounts", body, sam)
		if w.Code != http.StatusCreated {
			t.Fatalf("connect = %d %s", w.Code, w.Body)
		}
		a := decodeAccount(t, w.Body.String())
		if a.Provider != "stripe" || a.Status != "pending" || !strings.HasPrefix(a.OnboardingURL, "https://") {
			t.Errorf("connect = %+v, want stripe pending with an onboarding link", a)
		}
		w = request(f.handler, http.MethodPost, "/api/payments/accounts", body, sam)
		if w.Code != http.StatusOK {
			t.Errorf("connect again = %d %s, want 200", w.Code, w.Body)
		}
		if n := count(t, db, `SELECT count(*) FROM payout_accounts`); n != 1 {
			t.Errorf("stored accounts = %d, want 1", n)
		}
		var acct string
		if err := db.Read().QueryRow(`SELECT account_id FROM payout_accounts WHERE user_id = 'sam'`).Scan(&acct); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(acct, "acct_") {
			t.Errorf("account id = %q", acct)
		}
		w = request(f.handler, http.MethodGet, "/api/payments/accounts/me", "", sam)
		if a := decodeAccount(t, w.Body.String()); w.Code != 200 || a.Status != "pending" || a.OnboardingURL == "" {
			t.Errorf("me = %d %s, want pending with a link", w.Code, w.Body)
		}
		// What the webhook endpoint calls on account.updated.
		ctx := context.Background()
		if err := f.svc.AccountUpdated(ctx, acct, payments.AccountEnabled); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.AccountUpdated(ctx, acct, payments.AccountEnabled); err != nil {
			t.Fatalf("again: %v", err)
		}
		if err := f.svc.AccountUpdated(ctx, "acct_nobody", payments.AccountEnabled); err != nil {
			t.Errorf("unknown account: %v", err)
		}
		w = request(f.handler, http.MethodGet, "/api/payments/accounts/me", "", sam)
		if a := decodeAccount(t, w.Body.String()); w.Code != 200 || a != (accountBody{Provider: "stripe", Status: "enabled"}) {
			t.Errorf("me after account.updated = %d %s, want enabled without a link", w.Code, w.Body)
		}
	}, migs...)
}

// Connects sent at the same moment make one account: one 201, the rest
// 200 with it.
func TestPayoutAccountConcurrentConnects(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		sam := token(t, "sam")
		const n = 8
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- request(f.handler, http.MethodPost, "/api/payments/accounts", `{}`, sam).Code
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for c := range codes {
			got[c]++
		}
		if got[http.StatusCreated] != 1 || got[http.StatusOK] != n-1 {
			t.Errorf("answers = %v, want one 201 and %d 200", got, n-1)
		}
		if a := f.sandbox.Accounts(); a != 1 {
			t.Errorf("sandbox accounts = %d, want 1", a)
		}
		if c := count(t, db, `SELECT count(*) FROM payout_accounts`); c != 1 {
			t.Errorf("stored accounts = %d, want 1", c)
		}
	}, migs...)
}

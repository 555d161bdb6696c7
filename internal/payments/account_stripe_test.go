package payments

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v85"
)

// The payout account requests, as stripe-mock (which checks them against
// Stripe's OpenAPI spec) receives them through a recording proxy.
func TestStripeAccountRequests(t *testing.T) {
	target, err := url.Parse(stripeMock(t))
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		method, path, key string
		form              url.Values
	}
	var (
		mu   sync.Mutex
		reqs []sent
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		reqs = append(reqs, sent{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), form})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	p := NewStripe("sk_test_123", srv.URL).(*stripeProvider)
	ctx := context.Background()

	a, err := p.CreateAccount(ctx, AccountRequest{UserID: "u-1", Email: "sam@example.com", IdempotencyKey: "payout-account-u-1"})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	if a.Status != AccountPending {
		t.Errorf("new account = %+v, want pending", a)
	}
	link, err := p.OnboardingLink(ctx, a.ID, "http://localhost/payouts", "http://localhost/payouts/onboard")
	if err != nil || link == "" {
		t.Fatalf("link = %q, %v", link, err)
	}
	st, err := p.AccountState(ctx, a.ID)
	if err != nil || st.Status != AccountPending {
		t.Errorf("state = %+v, %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 3 {
		t.Fatalf("requests = %+v, want 3", reqs)
	}
	c := reqs[0]
	if c.method != "POST" || c.path != "/v1/accounts" || c.key != "payout-account-u-1" ||
		c.form.Get("type") != "express" || c.form.Get("capabilities[transfers][requested]") != "true" ||
		c.form.Get("metadata[user_id]") != "u-1" || c.form.Get("email") != "sam@example.com" {
		t.Errorf("create account request = %+v", c)
	}
	l := reqs[1]
	if l.method != "POST" || l.path != "/v1/account_links" || l.form.Get("account") != a.ID ||
		l.form.Get("type") != "account_onboarding" || l.form.Get("return_url") != "http://localhost/payouts" ||
		l.form.Get("refresh_url") != "http://localhost/payouts/onboard" {
		t.Errorf("account link request = %+v", l)
	}
	if g := reqs[2]; g.method != "GET" || g.path != "/v1/accounts/"+a.ID {
		t.Errorf("retrieve request = %+v", g)
	}
}

func TestStripeAccountStatus(t *testing.T) {
	for _, tc := range []struct {
		a    *stripe.Account
		want string
	}{
		{nil, AccountPending},
		{&stripe.Account{}, AccountPending},
		{&stripe.Account{DetailsSubmitted: true}, AccountPending},
		{&stripe.Account{PayoutsEnabled: true}, AccountPending},
		{&stripe.Account{DetailsSubmitted: true, PayoutsEnabled: true}, AccountEnabled},
	} {
		if got := StripeAccountStatus(tc.a); got != tc.want {
			t.Errorf("StripeAccountStatus(%+v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}

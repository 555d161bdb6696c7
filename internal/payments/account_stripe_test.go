package payments

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v85"
)

// stripeRequest is one request a stripeRecorder passed on.
type stripeRequest struct {
	Method, Path string
	// Key is the Idempotency-Key header.
	Key  string
	Form url.Values
}

// stripeRecorder is a proxy in front of stripe-mock that records every
// request; while drop says so of a request, stripe-mock gets it but its
// answer is lost (the connection closes), as when a process dies or the
// network fails after Stripe acted.
type stripeRecorder struct {
	URL  string
	mu   sync.Mutex
	reqs []stripeRequest
	drop func(stripeRequest) bool
}

func newStripeRecorder(t *testing.T) *stripeRecorder {
	t.Helper()
	target, err := url.Parse(stripeMock(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := &stripeRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		sent := stripeRequest{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), form}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, sent)
		drop := rec.drop != nil && rec.drop(sent)
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if !drop {
			proxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(httptest.NewRecorder(), r)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// DropAnswers sets which requests' answers are lost (nil: none).
func (r *stripeRecorder) DropAnswers(drop func(stripeRequest) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop = drop
}

// Requests returns the requests so far, in order.
func (r *stripeRecorder) Requests() []stripeRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// The payout account requests, as stripe-mock (which checks them against
// Stripe's OpenAPI spec) receives them through a recording proxy.
func TestStripeAccountRequests(t *testing.T) {
	rec := newStripeRecorder(t)
	p := NewStripe("sk_test_123", rec.URL).(*stripeProvider)
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
	reqs := rec.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %+v, want 3", reqs)
	}
	c := reqs[0]
	if c.Method != "POST" || c.Path != "/v1/accounts" || c.Key != "payout-account-u-1" ||
		c.Form.Get("type") != "express" || c.Form.Get("capabilities[transfers][requested]") != "true" ||
		c.Form.Get("metadata[user_id]") != "u-1" || c.Form.Get("email") != "sam@example.com" {
		t.Errorf("create account request = %+v", c)
	}
	l := reqs[1]
	if l.Method != "POST" || l.Path != "/v1/account_links" || l.Form.Get("account") != a.ID ||
		l.Form.Get("type") != "account_onboarding" || l.Form.Get("return_url") != "http://localhost/payouts" ||
		l.Form.Get("refresh_url") != "http://localhost/payouts/onboard" {
		t.Errorf("account link request = %+v", l)
	}
	if g := reqs[2]; g.Method != "GET" || g.Path != "/v1/accounts/"+a.ID {
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

package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPayoutsPage: without an account the page offers Connect, which
// posts the web's own return and refresh pages to the API and follows the
// onboarding link it answers (Stripe) or comes back with "Payouts
// enabled" (the sandbox); a pending account offers to continue; the
// balance shows held, available and paid in dollars. Signed out: sign in
// first. The nav links the page.
func TestPayoutsPage(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{me: &user{ID: "sam", Email: "sam@example.com"}, answers: map[string]answer{
		"GET /api/payments/balance": {200, `{"held":64,"available":10.5,"paid":0}`},
	}}
	c := newFakeWeb(t, api)

	page := c.get("/payouts")
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("payouts = %d:\n%s", page.Code, body)
	}
	for _, want := range []string{`action="/payouts/connect"`, "Connect payout account",
		`data-balance="held">$64.00<`, `data-balance="available">$10.50<`, `data-balance="paid">$0.00<`,
		`href="/payouts" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page without an account lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Payouts enabled") {
		t.Errorf("no account, yet enabled")
	}

	// Stripe: created pending, with an onboarding link to follow.
	api.answers["POST /api/payments/accounts"] = answer{201, `{"provider":"stripe","status":"pending","onboardingUrl":"https://connect.stripe.com/setup/e/acct_1/abc"}`}
	wantRedirect(t, "connect", c.post("/payouts/connect", url.Values{}), "https://connect.stripe.com/setup/e/acct_1/abc")
	sent := api.sent("POST /api/payments/accounts ")
	if !strings.Contains(sent, `"returnUrl":"http://example.com/payouts"`) || !strings.Contains(sent, `"refreshUrl":"http://example.com/payouts/onboard"`) {
		t.Errorf("the API was sent %q", sent)
	}

	// Back from Stripe, not finished: pending, continue.
	api.answers["GET /api/payments/accounts/me"] = answer{200, `{"provider":"stripe","status":"pending","onboardingUrl":"https://connect.stripe.com/setup/e/acct_1/def"}`}
	body = c.get("/payouts").Body.String()
	for _, want := range []string{`data-status="pending"`, "Continue setup", `action="/payouts/connect"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the pending page lacks %q:\n%s", want, body)
		}
	}
	// The link expired: Stripe sends the person to the refresh page.
	wantRedirect(t, "onboard", c.get("/payouts/onboard"), "https://connect.stripe.com/setup/e/acct_1/def")

	// Enabled: no Connect any more.
	api.answers["GET /api/payments/accounts/me"] = answer{200, `{"provider":"stripe","status":"enabled"}`}
	body = c.get("/payouts").Body.String()
	if !strings.Contains(body, "Payouts enabled") || strings.Contains(body, `action="/payouts/connect"`) {
		t.Errorf("the enabled page:\n%s", body)
	}
	wantRedirect(t, "onboard when enabled", c.get("/payouts/onboard"), "/payouts")

	// The sandbox: enabled at once, back to the page with a confirmation.
	api.answers["POST /api/payments/accounts"] = answer{201, `{"provider":"sandbox","status":"enabled"}`}
	api.answers["GET /api/payments/accounts/me"] = answer{200, `{"provider":"sandbox","status":"enabled"}`}
	c.get("/payouts")
	wantRedirect(t, "sandbox connect", c.post("/payouts/connect", url.Values{}), "/payouts")
	body = c.get("/payouts").Body.String()
	for _, want := range []string{"Your payout account is connected.", "Payouts enabled", "simulated sandbox account"} {
		if !strings.Contains(body, want) {
			t.Errorf("after the sandbox's connect the page lacks %q:\n%s", want, body)
		}
	}

	// A link that is not https is never followed.
	api.answers["POST /api/payments/accounts"] = answer{200, `{"provider":"stripe","status":"pending","onboardingUrl":"javascript:alert(1)"}`}
	wantRedirect(t, "bad link", c.post("/payouts/connect", url.Values{}), "/payouts")

	// Signed out: sign in first.
	signedOut := newFakeWeb(t, &fakeAPI{})
	if rec := signedOut.get("/payouts"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/auth/signin") {
		t.Errorf("signed out = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

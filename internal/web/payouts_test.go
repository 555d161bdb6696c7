package web

import (
	"fmt"
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
		"GET /api/payments/payouts": {200, `[]`},
	}}
	c := newFakeWeb(t, api)

	page := c.get("/payouts")
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("payouts = %d:\n%s", page.Code, body)
	}
	for _, want := range []string{`action="/payouts/connect"`, "Connect payout account",
		`data-balance="held">$64.00<`, `data-balance="available">$10.50<`, `data-balance="paid">$0.00<`,
		`href="/payouts" aria-current="page"`, "No payouts yet."} {
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

// TestPayoutsPageLists: under the balance, the payouts the API gives,
// newest first, in a table (order, amount, status, when paid, or a dash
// while pending), asked for a page and one more; that one more offers
// the older page, which links back to the newest. A cursor the API
// refuses shows no payouts and the way back, not an error.
func TestPayoutsPageLists(t *testing.T) {
	t.Parallel()
	list := []string{
		`{"orderId":"o-new","amount":5,"status":"pending","transferId":"","paidAt":null}`,
		`{"orderId":"o-resale","amount":27.5,"status":"paid","transferId":"tr_1","paidAt":"2026-06-21T23:00:00Z"}`,
	}
	api := &fakeAPI{me: &user{ID: "sam", Email: "sam@example.com"}, answers: map[string]answer{
		"GET /api/payments/balance":     {200, `{"held":0,"available":5,"paid":27.5}`},
		"GET /api/payments/accounts/me": {200, `{"provider":"sandbox","status":"enabled"}`},
		"GET /api/payments/payouts":     {200, "[" + strings.Join(list, ",") + "]"},
	}}
	c := newFakeWeb(t, api)
	page := c.get("/payouts")
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("payouts = %d:\n%s", page.Code, body)
	}
	if sent := api.sent("GET /api/payments/payouts"); !strings.HasPrefix(sent, "GET /api/payments/payouts?limit=51 ") {
		t.Errorf("the API was asked %q, want a page of 50 and one more", sent)
	}
	for _, want := range []string{
		`<caption class="visually-hidden">Your payouts, newest first</caption>`,
		`<th scope="col">Order</th><th scope="col">Amount</th><th scope="col">Status</th><th scope="col">Paid</th>`,
		`<code>o-resale</code>`, `payout-amount">$27.50<`, `data-status="paid">Paid<`, `<time datetime="2026-06-21T23:00:00Z">21 Jun 2026, 23:00 UTC</time>`,
		`<code>o-new</code>`, `payout-amount">$5.00<`, `data-status="pending">Processing<`, `<span aria-hidden="true">—</span><span class="visually-hidden">not yet</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the payouts page lacks %q:\n%s", want, body)
		}
	}
	if strings.Index(body, "o-new") > strings.Index(body, "o-resale") || strings.Index(body, `data-balance="paid"`) > strings.Index(body, "o-new") {
		t.Errorf("not the balance, then the newest payout first:\n%s", body)
	}
	if strings.Contains(body, "No payouts yet") || strings.Contains(body, `rel="next"`) {
		t.Errorf("a short list says it is empty or has more:\n%s", body)
	}

	// A full page and one more: the older page, after the page's last.
	full := make([]string, 51)
	for i := range full {
		full[i] = fmt.Sprintf(`{"orderId":"o-%02d","amount":1,"status":"paid","transferId":"tr_%d","paidAt":"2026-06-21T23:00:00Z"}`, i, i)
	}
	api.answers["GET /api/payments/payouts"] = answer{200, "[" + strings.Join(full, ",") + "]"}
	body = c.get("/payouts").Body.String()
	if n := strings.Count(body, `<tr data-order=`); n != 50 || strings.Contains(body, "o-50") ||
		!strings.Contains(body, `<a class="button" href="/payouts?after=o-49" rel="next">Older payouts</a>`) {
		t.Errorf("a full page shows %d payouts:\n%s", n, body)
	}
	api.seen = nil
	body = c.get("/payouts?after=o-49").Body.String()
	if sent := api.sent("GET /api/payments/payouts"); !strings.HasPrefix(sent, "GET /api/payments/payouts?after=o-49&limit=51 ") {
		t.Errorf("the older page asked the API %q", sent)
	}
	if !strings.Contains(body, `href="/payouts">Newest payouts</a>`) {
		t.Errorf("the older page does not link the newest:\n%s", body)
	}

	api.answers["GET /api/payments/payouts"] = answer{400, `{"errors":[{"message":"after must be the cursor of the previous page","field":"after"}]}`}
	page = c.get("/payouts?after=nonsense")
	body = page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(body, "No more payouts on this page.") || !strings.Contains(body, `href="/payouts">Back to the newest payouts</a>`) {
		t.Errorf("a refused cursor = %d:\n%s", page.Code, body)
	}
}

package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// The Payouts page (DESIGN.md 9.4): a seller's or organizer's payout
// account (Connect, then "Payouts enabled"), their balance, held,
// available and paid, and their payouts, newest first. No JavaScript: Connect is a form whose answer is a
// redirect to the provider's onboarding link (Stripe), or back here (the
// sandbox's account is enabled at once).

// payoutAccount is GET /api/payments/accounts/me.
type payoutAccount struct {
	Provider      string `json:"provider"`
	Status        string `json:"status"`
	OnboardingURL string `json:"onboardingUrl"`
}

// payoutBalance is GET /api/payments/balance.
type payoutBalance struct {
	Held      money.Cents `json:"held"`
	Available money.Cents `json:"available"`
	Paid      money.Cents `json:"paid"`
}

// PayoutAccount is the caller's payout account; nil when they have none.
func (c *apiClient) PayoutAccount(r *http.Request) (*payoutAccount, error) {
	var out payoutAccount
	_, err := c.call(r, http.MethodGet, "/api/payments/accounts/me", nil, &out)
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ConnectPayoutAccount creates the caller's payout account (or returns the
// one they have), with the pages onboarding sends them back to.
func (c *apiClient) ConnectPayoutAccount(r *http.Request, returnURL, refreshURL string) (payoutAccount, error) {
	var out payoutAccount
	_, err := c.call(r, http.MethodPost, "/api/payments/accounts",
		map[string]string{"returnUrl": returnURL, "refreshUrl": refreshURL}, &out)
	return out, err
}

// PayoutBalance is the caller's balance.
func (c *apiClient) PayoutBalance(r *http.Request) (payoutBalance, error) {
	var out payoutBalance
	_, err := c.call(r, http.MethodGet, "/api/payments/balance", nil, &out)
	return out, err
}

// payout is one entry of GET /api/payments/payouts; PaidAt is zero while
// it is pending.
type payout struct {
	OrderID    string      `json:"orderId"`
	Amount     money.Cents `json:"amount"`
	Status     string      `json:"status"`
	TransferID string      `json:"transferId"`
	PaidAt     time.Time   `json:"paidAt"`
}

// payoutsPage is how many payouts the page shows at a time.
const payoutsPage = 50

// Payouts is a page of the caller's payouts, newest first: up to limit,
// after the payout of the order after ("" from the newest).
func (c *apiClient) Payouts(r *http.Request, after string, limit int) ([]payout, error) {
	query := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		query.Set("after", after)
	}
	var out []payout
	_, err := c.call(r, http.MethodGet, "/api/payments/payouts?"+query.Encode(), nil, &out)
	return out, err
}

type payoutsData struct {
	Account *payoutAccount
	Balance payoutBalance
	Payouts []payout
	// More is the URL of the next (older) page of payouts, First that of
	// the newest; each is empty when there is no such page to go to.
	More, First string
}

// handlePayouts shows the account's state, the balance and the payouts,
// a page at a time (?after=, the last order id of the page before).
func (s *Service) handlePayouts(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Payouts", "payouts")
	if !ok {
		return
	}
	a, err := s.api.PayoutAccount(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.api.PayoutBalance(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := payoutsData{Account: a, Balance: b}
	after := r.URL.Query().Get("after")
	if after != "" {
		d.First = "/payouts"
	}
	// One payout more than the page says whether there is a next page. A
	// cursor the API refuses (a URL edited by hand) pages nowhere: the
	// page says so and links the newest.
	list, err := s.api.Payouts(r, after, payoutsPage+1)
	if err != nil && statusOf(err) != http.StatusBadRequest {
		s.fail(w, r, err)
		return
	}
	if len(list) > payoutsPage {
		list = list[:payoutsPage]
		d.More = "/payouts?" + url.Values{"after": {list[payoutsPage-1].OrderID}}.Encode()
	}
	d.Payouts = list
	v.Data = d
	s.render(w, r, http.StatusOK, "payouts", v)
}

// handlePayoutsConnect connects the caller's payout account and sends
// them on to onboarding when the provider has one, back here otherwise.
func (s *Service) handlePayoutsConnect(w http.ResponseWriter, r *http.Request) {
	origin := s.origin(r)
	a, err := s.api.ConnectPayoutAccount(r, origin+"/payouts", origin+"/payouts/onboard")
	switch {
	case statusOf(err) == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case err != nil:
		s.fail(w, r, err)
	case onboardingLink(a.OnboardingURL):
		http.Redirect(w, r, a.OnboardingURL, http.StatusSeeOther)
	default:
		s.redirect(w, r, "/payouts", "payouts_connected", nil)
	}
}

// handlePayoutsOnboard is where an expired onboarding link sends the
// person (Stripe's refresh_url): a fresh link, or the page when none is
// needed any more.
func (s *Service) handlePayoutsOnboard(w http.ResponseWriter, r *http.Request) {
	a, err := s.api.PayoutAccount(r)
	switch {
	case statusOf(err) == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case err != nil:
		s.fail(w, r, err)
	case a != nil && onboardingLink(a.OnboardingURL):
		http.Redirect(w, r, a.OnboardingURL, http.StatusSeeOther)
	default:
		seeOther(w, r, "/payouts")
	}
}

// onboardingLink accepts an absolute https link (the provider's), which
// the browser is then sent to.
func onboardingLink(s string) bool {
	u, err := url.Parse(s)
	return s != "" && err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

// origin is this site as the browser reaches it (scheme and host), for the
// pages the provider sends the person back to: https when the request
// came over TLS, when a trusted proxy says so, or when cookies are Secure
// (the site is served over HTTPS); the Host the browser asked for (the
// gateway keeps it).
func (s *Service) origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || s.cfg.CookieSecure ||
		(httpapi.PeerTrusted(r, s.cfg.TrustedProxies) && r.Header.Get("X-Forwarded-Proto") == "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

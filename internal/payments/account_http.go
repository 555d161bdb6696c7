package payments

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// accountRoutes registers the payout account, balance and payouts routes
// (signed in).
func (s *Service) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/payments/accounts", httpapi.RequireUser(s.handleAccountCreate))
	mux.HandleFunc("GET /api/payments/accounts/me", httpapi.RequireUser(s.handleAccountMe))
	mux.HandleFunc("GET /api/payments/balance", httpapi.RequireUser(s.handleBalance))
	mux.HandleFunc("GET /api/payments/payouts", httpapi.RequireUser(s.handlePayouts))
}

type accountCreateRequest struct {
	// ReturnURL and RefreshURL are where Stripe's onboarding sends the
	// user back (required with Stripe, unused by the sandbox).
	ReturnURL  string `json:"returnUrl"`
	RefreshURL string `json:"refreshUrl"`
}

type accountJSON struct {
	Provider      string `json:"provider"`
	Status        string `json:"status"`
	OnboardingURL string `json:"onboardingUrl,omitempty"`
}

func toAccountJSON(a Account) accountJSON {
	return accountJSON{Provider: a.Provider, Status: a.Status, OnboardingURL: a.OnboardingURL}
}

// handleAccountCreate connects the caller's payout account: 201 when
// created, 200 with the one they already have.
func (s *Service) handleAccountCreate(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	var req accountCreateRequest
	if err := httpapi.Decode(w, r, &req); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	a, created, err := s.ConnectAccount(r.Context(), u.ID, u.Email, req.ReturnURL, req.RefreshURL)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpapi.Respond(w, status, toAccountJSON(a))
}

func (s *Service) handleAccountMe(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	a, err := s.MyAccount(r.Context(), u.ID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toAccountJSON(a))
}

type balanceJSON struct {
	Held      money.Cents `json:"held"`
	Available money.Cents `json:"available"`
	Paid      money.Cents `json:"paid"`
}

func (s *Service) handleBalance(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	b, err := s.Balance(r.Context(), u.ID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, balanceJSON(b))
}

// payoutJSON is one payout as its payee sees it: the order whose proceeds
// it is, the amount in dollars, and once paid the provider's transfer and
// when it was recorded.
type payoutJSON struct {
	OrderID    string      `json:"orderId"`
	Amount     money.Cents `json:"amount"`
	Status     string      `json:"status"`
	TransferID string      `json:"transferId"`
	PaidAt     *time.Time  `json:"paidAt"`
}

func toPayoutJSON(p Payout) payoutJSON {
	out := payoutJSON{OrderID: p.OrderID, Amount: p.Amount, Status: p.Status, TransferID: p.TransferID}
	if p.Status == PayoutPaid {
		// The row's last change is the record of the transfer.
		at := p.UpdatedAt
		out.PaidAt = &at
	}
	return out
}

// handlePayouts answers GET /api/payments/payouts: the caller's payouts,
// newest first, MaxPayoutsPage at a time or ?limit=N; a Link header
// (rel="next") gives the next page, which continues after the page's last
// payout (?after=, its order id).
func (s *Service) handlePayouts(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	query := r.URL.Query()
	limit, err := httpapi.ParseLimit(query, MaxPayoutsPage)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if limit == 0 {
		limit = MaxPayoutsPage
	}
	list, err := s.PayoutsOf(r.Context(), u.ID, query.Get("after"), httpapi.Probe(limit))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, more := httpapi.NextPage(list, limit)
	if more {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {list[len(list)-1].OrderID}}
		httpapi.LinkNext(w, "/api/payments/payouts", next)
	}
	out := make([]payoutJSON, len(list))
	for i, p := range list {
		out[i] = toPayoutJSON(p)
	}
	httpapi.Respond(w, http.StatusOK, out)
}

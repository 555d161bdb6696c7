package payments

import (
	"net/http"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// accountRoutes registers the payout account and balance routes (signed
// in).
func (s *Service) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/payments/accounts", httpapi.RequireUser(s.handleAccountCreate))
	mux.HandleFunc("GET /api/payments/accounts/me", httpapi.RequireUser(s.handleAccountMe))
	mux.HandleFunc("GET /api/payments/balance", httpapi.RequireUser(s.handleBalance))
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

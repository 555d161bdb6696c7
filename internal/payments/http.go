package payments

import (
	"net/http"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// Routes registers the /api/payments routes on mux. Paying needs a
// signed-in caller (httpapi.CurrentUser must wrap the mux); the webhook is
// Stripe's, signed with the endpoint's secret instead (webhook.go).
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/payments", httpapi.RequireUser(s.handlePaymentCreate))
	s.accountRoutes(mux)
	mux.HandleFunc("POST /api/payments/webhook", s.handleWebhook)
}

type paymentCreateRequest struct {
	OrderID string `json:"orderId"`
	Token   string `json:"token"`
}

type paymentJSON struct {
	ID string `json:"id"`
}

func (s *Service) handlePaymentCreate(w http.ResponseWriter, r *http.Request) {
	u, _ := httpapi.UserFrom(r.Context())
	var req paymentCreateRequest
	if err := httpapi.Decode(w, r, &req); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	req.OrderID, req.Token = strings.TrimSpace(req.OrderID), strings.TrimSpace(req.Token)
	var p fault.Problems
	if req.OrderID == "" {
		p.Add("orderId", "Order id is required")
	}
	if req.Token == "" {
		p.Add("token", "Token is required")
	}
	if err := p.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	pay, err := s.Pay(r.Context(), u.ID, req.OrderID, req.Token)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusCreated, paymentJSON{ID: pay.ID})
}

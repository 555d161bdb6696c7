package tickets

import (
	"net/http"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// listingRequest is the body of POST /api/tickets/{id}/listing.
type listingRequest struct {
	Price priceField `json:"price"`
}

// handleListingCreate answers POST /api/tickets/{id}/listing {price}: the
// holder offers their issued ticket for resale, or changes the price of
// their listing (DESIGN.md 9.3). 200 with the ticket, on_sale.
func (s *Service) handleListingCreate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	var in listingRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var p fault.Problems
	switch {
	case !in.Price.set:
		p.Add("price", "Price is required")
	case in.Price.err != nil:
		p.Add("price", "Price must be an amount of dollars with at most two decimals")
	}
	if err := p.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	t, err := s.ListForResale(r.Context(), user.ID, r.PathValue("id"), in.Price.cents)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toResponse(t, user.ID))
}

// handleListingDelete answers DELETE /api/tickets/{id}/listing: the holder
// withdraws their resale listing; 204, the ticket held again.
func (s *Service) handleListingDelete(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if err := s.Unlist(r.Context(), user.ID, r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusNoContent, nil)
}

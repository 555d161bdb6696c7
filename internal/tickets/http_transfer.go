package tickets

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// transferRoutes registers the routes of transfers and history
// (DESIGN.md 9.3).
func (s *Service) transferRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/tickets/{id}/transfer", httpapi.RequireUser(s.handleTransferCreate))
	mux.HandleFunc("GET /api/tickets/{id}/history", httpapi.RequireUser(s.handleHistory))
	mux.HandleFunc("GET /api/transfers", httpapi.RequireUser(s.handleTransferList))
	mux.HandleFunc("POST /api/transfers/{id}/accept", httpapi.RequireUser(s.handleTransferAccept))
	mux.HandleFunc("DELETE /api/transfers/{id}", httpapi.RequireUser(s.handleTransferCancel))
}

// transferResponse is a transfer as the API shows it, to its sender and
// its recipient.
type transferResponse struct {
	ID         string         `json:"id"`
	TicketID   string         `json:"ticketId"`
	EventID    string         `json:"eventId"`
	Title      string         `json:"title"`
	FromUserID string         `json:"fromUserId"`
	FromEmail  string         `json:"fromEmail"`
	ToEmail    string         `json:"toEmail"`
	Status     TransferStatus `json:"status"`
	CreatedAt  time.Time      `json:"createdAt"`
}

func toTransferResponse(tr Transfer) transferResponse {
	return transferResponse{ID: tr.ID, TicketID: tr.TicketID, EventID: tr.EventID, Title: tr.Title,
		FromUserID: tr.FromUserID, FromEmail: tr.FromEmail, ToEmail: tr.ToEmail, Status: tr.Status, CreatedAt: tr.CreatedAt}
}

// transferRequest is the body of POST /api/tickets/{id}/transfer.
type transferRequest struct {
	Email *string `json:"email"`
}

// handleTransferCreate answers POST /api/tickets/{id}/transfer {email}:
// the holder offers the ticket to email; 201 the pending transfer.
func (s *Service) handleTransferCreate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	var in transferRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	email := ""
	if in.Email != nil {
		email = *in.Email
	}
	tr, err := s.StartTransfer(r.Context(), user, r.PathValue("id"), email)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusCreated, toTransferResponse(tr))
}

// transferListResponse is the caller's pending transfers.
type transferListResponse struct {
	Incoming []transferResponse `json:"incoming"`
	Outgoing []transferResponse `json:"outgoing"`
}

// handleTransferList answers GET /api/transfers: the caller's pending
// transfers, incoming (to the email of their session) and outgoing, newest
// first, at most MaxTransferList of each.
func (s *Service) handleTransferList(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	in, out, err := s.Transfers(r.Context(), user)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	resp := transferListResponse{Incoming: make([]transferResponse, len(in)), Outgoing: make([]transferResponse, len(out))}
	for i, tr := range in {
		resp.Incoming[i] = toTransferResponse(tr)
	}
	for i, tr := range out {
		resp.Outgoing[i] = toTransferResponse(tr)
	}
	httpapi.Respond(w, http.StatusOK, resp)
}

// handleTransferAccept answers POST /api/transfers/{id}/accept: the
// recipient becomes the holder with a new code; 200 the ticket.
func (s *Service) handleTransferAccept(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	t, err := s.AcceptTransfer(r.Context(), user, r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toResponse(t, user.ID))
}

// handleTransferCancel answers DELETE /api/transfers/{id}: the sender
// cancels their pending transfer; 204.
func (s *Service) handleTransferCancel(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if err := s.CancelTransfer(r.Context(), user.ID, r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusNoContent, nil)
}

// historyResponse is one entry of a ticket's history.
type historyResponse struct {
	TicketID    string    `json:"ticketId"`
	CodeVersion int64     `json:"codeVersion"`
	HolderID    string    `json:"holderId"`
	Reason      Reason    `json:"reason"`
	At          time.Time `json:"at"`
}

// errBadHistoryCursor is an after= that is not a code version.
var errBadHistoryCursor = &fault.Error{Kind: fault.Invalid, Field: "after", Message: "after must be the codeVersion of the previous page's last entry"}

// handleHistory answers GET /api/tickets/{id}/history: the ticket's
// history, oldest first, as the caller may see it (Service.History),
// MaxHistoryPage entries at a time or ?limit=N; a Link header (rel="next")
// gives the next page (?after=, the last entry's codeVersion).
func (s *Service) handleHistory(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	query := r.URL.Query()
	limit, err := httpapi.ParseLimit(query, MaxHistoryPage)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if limit == 0 {
		limit = MaxHistoryPage
	}
	var after int64
	if v := query.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			httpapi.Error(w, r, errBadHistoryCursor)
			return
		}
	}
	id := r.PathValue("id")
	list, err := s.History(r.Context(), user.ID, id, after, httpapi.Probe(limit))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, more := httpapi.NextPage(list, limit)
	if more {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {strconv.FormatInt(list[len(list)-1].CodeVersion, 10)}}
		httpapi.LinkNext(w, "/api/tickets/"+url.PathEscape(id)+"/history", next)
	}
	out := make([]historyResponse, len(list))
	for i, e := range list {
		out[i] = historyResponse(e)
	}
	httpapi.Respond(w, http.StatusOK, out)
}

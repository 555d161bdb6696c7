package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transfers and history of held tickets (DESIGN.md 9.3): on My tickets
// each held ticket has a Transfer form (an email; no JavaScript needed), a
// pending transfer shows with Cancel transfer, and transfers offered to
// the caller show with Accept. A ticket's history has its own page.

// transfer is a transfer as the API shows it.
type transfer struct {
	ID         string    `json:"id"`
	TicketID   string    `json:"ticketId"`
	EventID    string    `json:"eventId"`
	Title      string    `json:"title"`
	FromUserID string    `json:"fromUserId"`
	FromEmail  string    `json:"fromEmail"`
	ToEmail    string    `json:"toEmail"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"createdAt"`
}

// transferList is GET /api/transfers: the caller's pending transfers.
type transferList struct {
	Incoming []transfer `json:"incoming"`
	Outgoing []transfer `json:"outgoing"`
}

// historyEntry is one entry of a ticket's history.
type historyEntry struct {
	TicketID    string    `json:"ticketId"`
	CodeVersion int64     `json:"codeVersion"`
	HolderID    string    `json:"holderId"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
}

// Transfers lists the caller's pending transfers. An API without
// transfers (404) has none.
func (c *apiClient) Transfers(r *http.Request) (transferList, error) {
	var out transferList
	_, err := c.call(r, http.MethodGet, "/api/transfers", nil, &out)
	if statusOf(err) == http.StatusNotFound {
		return transferList{}, nil
	}
	return out, err
}

// StartTransfer offers the caller's held ticket to email.
func (c *apiClient) StartTransfer(r *http.Request, id, email string) error {
	_, err := c.call(r, http.MethodPost, "/api/tickets/"+url.PathEscape(id)+"/transfer", map[string]string{"email": email}, nil)
	return err
}

// AcceptTransfer takes the ticket a transfer offers the caller.
func (c *apiClient) AcceptTransfer(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodPost, "/api/transfers/"+url.PathEscape(id)+"/accept", nil, nil)
	return err
}

// CancelTransfer cancels the caller's pending transfer.
func (c *apiClient) CancelTransfer(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodDelete, "/api/transfers/"+url.PathEscape(id), nil, nil)
	return err
}

// TicketHistory is the first page of the ticket's history the caller may
// see (the API's most entries).
func (c *apiClient) TicketHistory(r *http.Request, id string) ([]historyEntry, error) {
	var out []historyEntry
	_, err := c.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(id)+"/history?limit=100", nil, &out)
	return out, err
}

// handleTransferStart offers the caller's held ticket to the email typed
// and goes back to My tickets; a refusal comes back beside that ticket's
// email field, with what was typed.
func (s *Service) handleTransferStart(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.api.StartTransfer(r, id, strings.TrimSpace(r.PostForm.Get("email")))
	const mine = "/tickets/mine"
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, mine+"#ticket-"+url.PathEscape(id), "transfer_sent", nil)
	case st == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case st == http.StatusBadRequest || st == http.StatusConflict || st == http.StatusNotFound:
		f := newForm(typed(r, "email"))
		f.Values.Set("ticket", id)
		addTransferError(f, err)
		s.redirect(w, r, mine+"#ticket-"+url.PathEscape(id), "", f)
	default:
		s.fail(w, r, err)
	}
}

// handleTransferAccept accepts a transfer offered to the caller.
func (s *Service) handleTransferAccept(w http.ResponseWriter, r *http.Request) {
	s.afterTransfer(w, r, s.api.AcceptTransfer(r, r.PathValue("id")), "transfer_accepted")
}

// handleTransferCancel cancels the caller's pending transfer.
func (s *Service) handleTransferCancel(w http.ResponseWriter, r *http.Request) {
	s.afterTransfer(w, r, s.api.CancelTransfer(r, r.PathValue("id")), "transfer_cancelled")
}

// afterTransfer answers an accept or a cancellation with My tickets: the
// confirmation msg, or the refusal at the top of the page.
func (s *Service) afterTransfer(w http.ResponseWriter, r *http.Request, err error, msg string) {
	const mine = "/tickets/mine"
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, mine, msg, nil)
	case st == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case st == http.StatusConflict || st == http.StatusNotFound || st == http.StatusBadRequest:
		f := newForm(url.Values{"transfer": {r.PathValue("id")}})
		if st == http.StatusNotFound {
			f.General = append(f.General, "That transfer is not yours, or no longer exists.")
		} else {
			addTransferError(f, err)
		}
		s.redirect(w, r, mine, "", f)
	default:
		s.fail(w, r, err)
	}
}

// addTransferError puts the API's refusal of a transfer on the form: an
// email problem beside the field, the rest at the top. The API's own
// words say it best here (the shared rewordings of ticket_checked_in and
// event_not_scheduled speak of resale).
func addTransferError(f *form, err error) {
	var ae *apiError
	if !errors.As(err, &ae) || len(ae.Errors) == 0 {
		f.addAPIError(err, "email")
		return
	}
	for _, fe := range ae.Errors {
		msg := sentence(fe.Message)
		if msg == "" {
			msg = "Something went wrong. Please try again."
		}
		if fe.Field == "email" {
			if _, dup := f.Errors["email"]; !dup {
				f.Errors["email"] = msg
			}
			continue
		}
		if ae.Status == http.StatusNotFound {
			msg = "That ticket is not yours to transfer."
		}
		f.General = append(f.General, msg)
	}
}

// historyRow is one entry as the history page shows it.
type historyRow struct {
	At     time.Time
	Reason string
	// Holder is "You" for the viewer's own periods, else the start of the
	// holder's account id (only the organizer sees others').
	Holder string
}

type historyData struct {
	Ticket ticket
	Rows   []historyRow
}

// reasonText says why a ticket changed hands, in words.
func reasonText(reason string) string {
	switch reason {
	case "issued":
		return "Bought from the organizer"
	case "resold":
		return "Bought on resale"
	case "transferred":
		return "Received by transfer"
	case "voided":
		return "Voided: the event was cancelled"
	}
	return reason
}

// handleTicketHistory is a ticket's history: who held it from when, and
// why, as the API lets the caller see it (their own periods, or all of
// them for the event's organizer); anyone else gets the 404 page.
func (s *Service) handleTicketHistory(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Ticket history", "tickets")
	if !ok {
		return
	}
	id := r.PathValue("id")
	list, err := s.api.TicketHistory(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.api.Ticket(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]historyRow, len(list))
	for i, e := range list {
		holder := "Account " + e.HolderID[:min(8, len(e.HolderID))]
		if v.User != nil && e.HolderID == v.User.ID {
			holder = "You"
		}
		rows[i] = historyRow{At: e.At, Reason: reasonText(e.Reason), Holder: holder}
	}
	v.Data = historyData{Ticket: t, Rows: rows}
	s.render(w, r, http.StatusOK, "ticket_history", v)
}

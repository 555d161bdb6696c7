package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// The holder's pages (DESIGN.md section 9.2): My tickets, each held ticket
// with its event, its entry code as a QR code and in short form, and its
// PDF. Only the holder sees a code: the API answers anyone else 404.

// heldTicket is one of the caller's held tickets as My tickets shows it.
type heldTicket struct {
	ID    string
	Event event
	// Known: the event could be read (it always can, unless it was
	// removed); without it the ticket is shown by its title.
	Known bool
	Title string
	// Void: the code is dead (the event was cancelled, or the ticket was
	// refunded); no QR code then.
	Void bool
	// QR is the code as an inline SVG, Short its short form.
	QR    template.HTML
	Short string
	// Listed: the holder offers it for resale at Price (DESIGN.md 9.3);
	// Reserved: a buyer's order holds that listing while they pay. The
	// code still admits the holder until the resale is paid.
	Listed, Reserved bool
	Price            money.Cents
	// Transfer is the holder's pending transfer of the ticket, if any;
	// TransferOpen says the event takes transfers now (allowed, not
	// started: DESIGN.md 9.3).
	Transfer     *transfer
	TransferOpen bool
}

// Transferable says the holder may offer the ticket to someone: its event
// allows it now, it is not listed, and no transfer is pending.
func (h heldTicket) Transferable() bool {
	return h.Known && !h.Void && !h.Listed && h.Transfer == nil && h.TransferOpen && h.Event.Status == eventScheduled
}

// Sellable says the holder may offer the ticket for resale: its event is
// known and still scheduled, no buyer is paying for it, and no transfer
// of it is pending.
func (h heldTicket) Sellable() bool {
	return h.Known && !h.Void && !h.Reserved && h.Transfer == nil && h.Event.Status == eventScheduled
}

type myTicketsData struct {
	Tickets []heldTicket
	// Incoming are the transfers offered to the caller.
	Incoming []transfer
}

// handleMyTickets is My tickets: the tickets the caller holds, newest
// first.
func (s *Service) handleMyTickets(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "My tickets", "tickets")
	if !ok {
		return
	}
	list, err := s.api.MyTickets(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	transfers, err := s.api.Transfers(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	outgoing := map[string]*transfer{}
	for i := range transfers.Outgoing {
		outgoing[transfers.Outgoing[i].TicketID] = &transfers.Outgoing[i]
	}
	now := s.cfg.Now()
	events := map[string]*event{}
	var out []heldTicket
	for _, t := range list {
		if !t.HeldByYou {
			continue
		}
		h := heldTicket{ID: t.ID, Title: t.Title, Void: t.Status == ticketVoid,
			Listed: t.Status == ticketOnSale || t.Status == ticketReserved, Reserved: t.Status == ticketReserved}
		if h.Listed {
			h.Price = t.Price
		}
		h.Transfer = outgoing[t.ID]
		if t.EventID != "" {
			e, ok := events[t.EventID]
			if !ok {
				ev, err := s.api.Event(r, t.EventID)
				switch {
				case err == nil:
					e = &ev
				case statusOf(err) != http.StatusNotFound:
					s.fail(w, r, err)
					return
				}
				events[t.EventID] = e
			}
			if e != nil {
				h.Event, h.Known = *e, true
				h.TransferOpen = e.Transfers && now.Before(e.StartsAt)
			}
		}
		if !h.Void {
			c, err := s.api.TicketCode(r, t.ID)
			switch {
			case err == nil:
				h.Short = c.Short
				label := "Entry code of your ticket"
				if h.Known {
					label += " for " + h.Event.Name
				}
				if h.QR, err = qrSVG(c.Code, label); err != nil {
					s.fail(w, r, err)
					return
				}
			case errorCode(err) == "ticket_void":
				h.Void = true // voided since the list was read
			case statusOf(err) == http.StatusNotFound:
				continue // no longer theirs
			default:
				s.fail(w, r, err)
				return
			}
		}
		out = append(out, h)
	}
	v.Data = myTicketsData{Tickets: out, Incoming: transfers.Incoming}
	s.render(w, r, http.StatusOK, "my_tickets", v)
}

// handleResaleList offers the caller's held ticket for resale at the
// price typed, or changes the price of their listing, and goes back to My
// tickets; a refusal (over the cap, a price that cannot be read) is shown
// there beside that ticket's price field, with what was typed.
func (s *Service) handleResaleList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	price, problem := priceInput(r.PostForm.Get("price"))
	var err error
	if problem != "" {
		err = &apiError{Status: http.StatusBadRequest, Errors: []fieldError{{Field: "price", Message: problem, Code: "invalid"}}}
	} else {
		err = s.api.ListForResale(r, id, price)
	}
	s.afterResale(w, r, id, err, "resale_listed")
}

// handleResaleWithdraw takes the caller's resale listing off sale.
func (s *Service) handleResaleWithdraw(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.afterResale(w, r, id, s.api.WithdrawResale(r, id), "resale_withdrawn")
}

// afterResale answers a listing or withdrawal with My tickets: the
// confirmation msg, or the refusal beside the ticket's form (the form
// remembers which ticket it was about in the "ticket" value).
func (s *Service) afterResale(w http.ResponseWriter, r *http.Request, id string, err error, msg string) {
	const mine = "/tickets/mine"
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, mine, msg, nil)
	case st == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case st == http.StatusBadRequest || st == http.StatusConflict || st == http.StatusTooManyRequests || st == http.StatusNotFound:
		f := newForm(typed(r, "price"))
		f.Values.Set("ticket", id)
		f.addAPIError(err, "price")
		s.redirect(w, r, mine+"#ticket-"+url.PathEscape(id), "", f)
	default:
		s.fail(w, r, err)
	}
}

// handleTicketPDF is a held ticket's PDF, for its holder only: anyone else
// gets the 404 page, as for a ticket that does not exist.
func (s *Service) handleTicketPDF(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.api.TicketCode(r, id)
	if errorCode(err) == "ticket_void" {
		s.renderError(w, r, http.StatusConflict, "This ticket is void",
			"Its entry code no longer works: the event was cancelled or the ticket refunded. My tickets says which.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.api.Event(r, c.EventID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.api.CurrentUser(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The API shows the short form in groups (XXXX-XXXX-XXXX); the sheet
	// takes it plain, and groups it itself.
	short, err := entrycode.Normalize(c.Short)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: ticket %s: short form: %v", errUnavailable, id, err))
		return
	}
	sheet := ticketSheet{Code: c.Code, Short: short, Event: e.Name, Venue: e.Venue,
		StartsAt: e.StartsAt, Zone: e.TimeZone, TicketID: c.TicketID}
	if u != nil {
		sheet.HolderEmail = u.Email
	}
	var buf bytes.Buffer
	if err := writeTicketPDF(&buf, sheet); err != nil {
		s.fail(w, r, fmt.Errorf("ticket %s: pdf: %w", id, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+pdfName(e.Name, entrycode.Format(short))+`"`)
	// The code is the ticket: no shared cache may keep it.
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// pdfName is the PDF's file name: "ticket-<event>-<short>.pdf", the event's
// name cut to letters, digits and dashes, so no quote or path gets into the
// header.
func pdfName(event, short string) string {
	clean := func(s string, n int) string {
		var b strings.Builder
		dash := false
		for _, r := range strings.ToLower(s) {
			ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
			switch {
			case ok:
				b.WriteRune(r)
				dash = false
			case !dash && b.Len() > 0:
				b.WriteByte('-')
				dash = true
			}
			if b.Len() >= n {
				break
			}
		}
		return strings.Trim(b.String(), "-")
	}
	name := "ticket"
	if e := clean(event, 40); e != "" {
		name += "-" + e
	}
	if c := clean(short, 20); c != "" {
		name += "-" + c
	}
	return name + ".pdf"
}

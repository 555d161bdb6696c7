package web

import (
	"cmp"
	"context"
	"errors"
	"github.com/ticketing/ticketing/internal/platform/money"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The ticket pages: the index of tickets on sale, selling, a ticket and its
// purchase, editing, and the seller's listings.

type indexData struct {
	Q string
	// Sort is the list's order as the API names it ("" for newest).
	Sort    string
	Tickets []ticket
	// More is the URL of the next page, First that of the first one; each
	// is empty when there is no such page to go to.
	More, First string
	// Events are the first upcoming events (first page only), MoreEvents
	// the events page that continues them; EventsDown says they could not
	// be read (the listings still show).
	Events     []eventCard
	MoreEvents string
	EventsDown bool
}

// indexPage is how many tickets one page of the index shows.
const indexPage = 24

// SortOptions are the orders the index offers, as the API names them.
func (indexData) SortOptions() []struct{ Value, Label string } {
	return []struct{ Value, Label string }{
		{"newest", "Newest first"},
		{"price_asc", "Price: low to high"},
		{"price_desc", "Price: high to low"},
	}
}

func (s *Service) handleIndex(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Tickets for sale", "home")
	if !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	sort := r.URL.Query().Get("sort")
	if sort == "newest" {
		sort = "" // the default: keep the URLs short
	}
	after := r.URL.Query().Get("after")
	v.Form = newForm(url.Values{"q": {q}, "sort": {cmp.Or(sort, "newest")}})
	// One ticket more than the page says whether there is a next page. An
	// unknown sort is the API's to refuse.
	list, err := s.api.Tickets(r, ticketQuery{Q: q, Sort: sort, After: after, Limit: indexPage + 1})
	if err != nil {
		if statusOf(err) != http.StatusBadRequest {
			s.fail(w, r, err)
			return
		}
		v.Form.addAPIError(err, "q", "sort")
	}
	d := indexData{Q: q, Sort: sort, Tickets: list}
	page := url.Values{}
	for k, val := range map[string]string{"q": q, "sort": sort} {
		if val != "" {
			page.Set(k, val)
		}
	}
	if after != "" {
		d.First = indexURL(page)
	}
	if len(list) > indexPage {
		d.Tickets = list[:indexPage]
		page.Set("after", indexCursor(sort, d.Tickets[indexPage-1]))
		d.More = indexURL(page)
	}
	if after == "" {
		// Above the listings, the soonest events matching the same words.
		// The listings are the page: without the events part they still
		// show.
		var err error
		d.Events, d.MoreEvents, err = s.upcoming(r, q, "", indexEvents)
		switch {
		case errors.Is(err, context.Canceled):
			return
		case err != nil && statusOf(err) != http.StatusBadRequest: // a bad q is said beside the box already
			s.log.Warn("web index events", "err", err)
			d.EventsDown = true
		}
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "index", v)
}

// indexCursor is the API's after= that continues the list past t: the
// ticket's id, and for the price orders its price in cents before it
// ("2050.<id>"), as GET /api/tickets documents.
func indexCursor(sort string, t ticket) string {
	if sort == "price_asc" || sort == "price_desc" {
		return strconv.FormatInt(int64(t.Price), 10) + "." + t.ID
	}
	return t.ID
}

// indexURL is the index page with query v.
func indexURL(v url.Values) string {
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

type ticketFormData struct {
	Ticket *ticket // nil when selling a new one
}

func (s *Service) handleTicketNewForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Sell a ticket", "sell")
	if !ok {
		return
	}
	v.Data = ticketFormData{}
	s.render(w, r, http.StatusOK, "ticket_form", v)
}

// ticketForm is the ticket the form describes. An empty price is left out
// so the API says "Price is required" rather than complaining about
// notation.
//
// A price whose separators cannot be read (priceInput) is refused here, as
// the API's 400 on the price field would be, so both forms show it the
// same way, beside the field.
func ticketForm(r *http.Request) (ticketInput, error) {
	p, problem := priceInput(r.PostForm.Get("price"))
	if problem != "" {
		return ticketInput{}, &apiError{Status: http.StatusBadRequest, Errors: []fieldError{{Field: "price", Message: problem, Code: "invalid"}}}
	}
	return ticketInput{Title: r.PostForm.Get("title"), Price: p}, nil
}

func (s *Service) handleTicketCreate(w http.ResponseWriter, r *http.Request) {
	in, err := ticketForm(r)
	var t ticket
	if err == nil {
		t, err = s.api.CreateTicket(r, in)
	}
	// 400: a field to fix; 429: the seller has the most listings allowed.
	if st := statusOf(err); st == http.StatusBadRequest || st == http.StatusTooManyRequests {
		f := newForm(typed(r, "title", "price"))
		f.addAPIError(err, "title", "price")
		s.redirect(w, r, "/tickets/new", "", f)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/tickets/"+url.PathEscape(t.ID), "listed", nil)
}

type ticketData struct {
	Ticket   ticket
	Mine     bool
	Reserved bool
	// Gone: sold or withdrawn, no longer available to anyone.
	Gone bool
	// MyOrderID is the caller's own order holding the ticket, if any.
	MyOrderID string
	// Event is the event of a verified resale (Ticket.Resale), for its
	// face value and cap; nil otherwise, or when it could not be read.
	Event *event
	// Fee is the service fee a purchase now adds to the price, Total what
	// the buyer would pay: shown before reserving (the order keeps the
	// fee taken when it is made).
	Fee, Total money.Cents
}

// handleTicketShow renders the ticket page, with the problems of a
// purchase that did not go through when its redirect left them.
func (s *Service) handleTicketShow(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Ticket", "")
	if !ok {
		return
	}
	t, err := s.api.Ticket(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = t.Title
	d := ticketData{Ticket: t, Mine: v.User != nil && v.User.ID == t.UserID,
		Reserved: t.Status == "reserved" || t.Status == "" && t.OrderID != "",
		// An issued ticket someone holds (or whose code is void) is not
		// for sale either, until its holder lists it.
		Gone: t.Status == "sold" || t.Status == "withdrawn" || t.Status == ticketHeld || t.Status == ticketVoid}
	d.Fee = s.cfg.Fee.Fee(t.Price)
	d.Total = t.Price + d.Fee
	if t.Resale {
		// The seller of a resale is its holder, not the organizer the
		// ticket's userId names.
		d.Mine = t.HeldByYou
		e, err := s.api.Event(r, t.EventID)
		switch {
		case err == nil:
			d.Event = &e
		case statusOf(err) != http.StatusNotFound:
			s.fail(w, r, err)
			return
		}
	}
	if d.Reserved && v.User != nil && !d.Mine {
		// Is the holding order the caller's? Only its buyer may read it
		// (anyone else gets a 401), so a read answers it. A cancellation
		// on its way to tickets leaves nothing to pay.
		if o, err := s.api.Order(r, t.OrderID); err == nil &&
			o.UserID == v.User.ID && (o.Status == statusCreated || o.Status == statusAwaitingPayment) {
			d.MyOrderID = o.ID
		}
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "ticket", v)
}

// handleTicketPurchase reserves the ticket with a new order and shows it.
func (s *Service) handleTicketPurchase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, err := s.reserve(r, id)
	switch st := statusOf(err); {
	case err == nil:
		seeOther(w, r, "/orders/"+url.PathEscape(o.ID))
	case st == http.StatusUnauthorized:
		http.Redirect(w, r, "/auth/signin?next="+url.QueryEscape("/tickets/"+id), http.StatusSeeOther)
	case st == http.StatusBadRequest || st == http.StatusTooManyRequests || st == http.StatusNotFound:
		f := newForm(nil)
		switch at := retryAt(err, s.cfg.Now()); {
		case st == http.StatusNotFound:
			// The ticket exists (or the ticket page is the 404 page) but
			// the orders service has not heard of it yet.
			f.General = append(f.General, "This ticket was listed a moment ago and is not ready to buy yet. Please try again in a few seconds.")
		case st == http.StatusTooManyRequests && !at.IsZero():
			// A pause the API names the end of (such as the one after
			// cancelling or letting an order expire): say when.
			var ae *apiError
			msg := "You cannot reserve this ticket right now."
			if errors.As(err, &ae) && len(ae.Errors) > 0 && ae.Errors[0].Message != "" {
				msg = sentence(ae.Errors[0].Message)
			}
			f.General = append(f.General, msg+" You can try again after "+humanTime(at)+".")
		default:
			f.addAPIError(err)
		}
		s.redirect(w, r, "/tickets/"+url.PathEscape(id), "", f)
	default:
		s.fail(w, r, err)
	}
}

// reserve creates the order. Orders learns of a new ticket from an event,
// so for a moment after it is listed the ticket exists but orders answers
// 404.
func (s *Service) reserve(r *http.Request, ticketID string) (order, error) {
	var o order
	err := s.untilKnown(r,
		func() (err error) {
			o, err = s.api.Reserve(r, ticketID)
			return err
		},
		func() bool {
			_, err := s.api.Ticket(r, ticketID)
			return err == nil
		})
	return o, err
}

func (s *Service) handleTicketEditForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Edit listing", "listings")
	if !ok {
		return
	}
	t, err := s.api.Ticket(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if t.UserID != v.User.ID {
		s.renderError(w, r, http.StatusForbidden, "Not your ticket", "Only the seller can edit this ticket.")
		return
	}
	if v.Form == nil {
		v.Form = newForm(url.Values{"title": {t.Title}, "price": {t.Price.String()}})
	}
	if t.OrderID != "" && len(v.Form.General) == 0 {
		v.Form.General = append(v.Form.General, "This ticket is reserved by a buyer, so it cannot be changed right now.")
	}
	v.Data = ticketFormData{Ticket: &t}
	s.render(w, r, http.StatusOK, "ticket_form", v)
}

func (s *Service) handleTicketUpdate(w http.ResponseWriter, r *http.Request) {
	edit := "/tickets/" + url.PathEscape(r.PathValue("id")) + "/edit"
	in, err := ticketForm(r)
	if err == nil {
		err = s.api.UpdateTicket(r, r.PathValue("id"), in)
	}
	switch statusOf(err) {
	case 0:
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.redirect(w, r, "/listings", "updated", nil)
	case http.StatusBadRequest:
		f := newForm(typed(r, "title", "price"))
		f.addAPIError(err, "title", "price")
		s.redirect(w, r, edit, "", f)
	case http.StatusUnauthorized:
		// Signed out, or not the owner: the edit page tells which.
		s.redirect(w, r, edit, "", nil)
	default:
		s.fail(w, r, err)
	}
}

type listingsData struct{ Tickets []ticket }

// handleTicketWithdraw takes the seller's ticket off sale (the form in My
// listings, confirmed there) and goes back to the listings.
func (s *Service) handleTicketWithdraw(w http.ResponseWriter, r *http.Request) {
	err := s.api.WithdrawTicket(r, r.PathValue("id"))
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, "/listings", "withdrawn", nil)
	case st == http.StatusBadRequest:
		// Reserved or sold meanwhile: the listings show which.
		s.redirect(w, r, "/listings", "", nil)
	case st == http.StatusUnauthorized:
		s.toSignIn(w, r)
	default:
		s.fail(w, r, err)
	}
}

func (s *Service) handleListings(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "My listings", "listings")
	if !ok {
		return
	}
	list, err := s.api.MyTickets(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The tickets the caller holds are in My tickets, listed for resale
	// or not: they are sold, repriced and withdrawn there.
	selling := list[:0]
	for _, t := range list {
		if t.EventID == "" && t.Status != ticketHeld && t.Status != ticketVoid {
			selling = append(selling, t)
		}
	}
	v.Data = listingsData{Tickets: selling}
	s.render(w, r, http.StatusOK, "listings", v)
}

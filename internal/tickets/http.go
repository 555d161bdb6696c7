package tickets

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Routes registers the ticket routes on mux, with their full paths.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/tickets", s.handleTicketList)
	mux.HandleFunc("POST /api/tickets", httpapi.RequireUser(s.handleTicketCreate))
	mux.HandleFunc("GET /api/tickets/mine", httpapi.RequireUser(s.handleTicketMine))
	mux.HandleFunc("GET /api/tickets/{id}", s.handleTicketGet)
	mux.HandleFunc("PUT /api/tickets/{id}", httpapi.RequireUser(s.handleTicketUpdate))
	mux.HandleFunc("DELETE /api/tickets/{id}", httpapi.RequireUser(s.handleTicketWithdraw))
	mux.HandleFunc("GET /api/tickets/{id}/code", httpapi.RequireUser(s.handleTicketCode))
	mux.HandleFunc("POST /api/tickets/{id}/listing", httpapi.RequireUser(s.handleListingCreate))
	mux.HandleFunc("DELETE /api/tickets/{id}/listing", httpapi.RequireUser(s.handleListingDelete))
	mux.HandleFunc("POST /api/checkins", httpapi.RequireUser(s.handleCheckin))
	s.transferRoutes(mux)
}

// ticketResponse is a ticket as the API shows it.
type ticketResponse struct {
	ID      string      `json:"id"`
	Title   string      `json:"title"`
	Price   money.Cents `json:"price"`
	UserID  string      `json:"userId"`
	Version int64       `json:"version"`
	OrderID string      `json:"orderId,omitempty"`
	Status  Status      `json:"status"`
	// SoldAt, beyond DESIGN.md's shape, tells the seller when it sold.
	SoldAt *time.Time `json:"soldAt,omitempty"`
	// EventID is the event of an issued ticket; OnSaleAt when it goes on
	// sale.
	EventID  string    `json:"eventId,omitempty"`
	OnSaleAt time.Time `json:"onSaleAt,omitzero"`
	// HeldByYou tells the holder of an issued ticket that they hold it,
	// and CodeVersion the version of their code; both are shown to the
	// holder only, as who holds a ticket is nobody else's business.
	HeldByYou   bool  `json:"heldByYou,omitempty"`
	CodeVersion int64 `json:"codeVersion,omitempty"`
	// Resale tells anyone that the ticket is a holder's resale listing
	// (DESIGN.md 9.3), not the event's own stock, without saying who
	// holds it: the pages show it as a verified resale, face value and
	// cap beside the price.
	Resale bool `json:"resale,omitempty"`
}

// toResponse is t as viewerID ("" signed out) sees it.
func toResponse(t Ticket, viewerID string) ticketResponse {
	out := ticketResponse{ID: t.ID, Title: t.Title, Price: t.Price, UserID: t.UserID,
		Version: t.Version, OrderID: t.OrderID, Status: t.Status, EventID: t.EventID, OnSaleAt: t.OnSaleAt,
		Resale: t.Listed()}
	if !t.SoldAt.IsZero() {
		out.SoldAt = &t.SoldAt
	}
	if viewerID != "" && t.HolderID == viewerID {
		out.HeldByYou, out.CodeVersion = true, t.CodeVersion
	}
	return out
}

// viewer is the signed-in caller's id, or "".
func viewer(r *http.Request) string {
	u, _ := httpapi.UserFrom(r.Context())
	return u.ID
}

// ticketRequest is the body of POST and PUT.
type ticketRequest struct {
	Title *string    `json:"title"`
	Price priceField `json:"price"`
}

// priceField reads the price without failing the whole body: a missing
// price or a bad notation ("20.505", "abc", true) becomes a problem of the
// field "price", reported beside the other fields' problems, rather than a
// bodiless "Request body could not be read".
type priceField struct {
	set   bool
	cents money.Cents
	err   error
}

func (p *priceField) UnmarshalJSON(b []byte) error {
	// null, and the empty string of a form's untouched price box, are the
	// same as leaving the price out.
	if b = bytes.TrimSpace(b); bytes.Equal(b, []byte("null")) || isBlankString(b) {
		*p = priceField{}
		return nil
	}
	p.set = true
	p.err = p.cents.UnmarshalJSON(b)
	return nil
}

// isBlankString reports whether b is a JSON string of nothing but spaces.
func isBlankString(b []byte) bool {
	var s string
	return len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil && strings.TrimSpace(s) == ""
}

// fields turns the request into Fields, reporting every field at fault.
func (in ticketRequest) fields() (Fields, error) {
	var p fault.Problems
	f := Fields{Price: in.Price.cents}
	if in.Title != nil {
		f.Title = *in.Title
	}
	var priceProblem string
	switch {
	case !in.Price.set:
		priceProblem = "Price is required"
	case in.Price.err != nil:
		priceProblem = "Price must be an amount of dollars with at most two decimals"
	}
	f.check(&p, priceProblem == "")
	if priceProblem != "" {
		p.Add("price", priceProblem)
	}
	return f, p.Err()
}

// MaxPage is the most tickets one page of GET /api/tickets?limit= holds.
const MaxPage = 100

// handleTicketList answers GET /api/tickets: the tickets on sale, newest
// first. An optional ?q= keeps those whose title holds every word of q, in
// any order, as a word or the start of one, ignoring case and accents (the
// web client's search box): "opera balc" finds "Opéra night, balcony".
// ?sort= orders the list: newest (the default), price_asc or price_desc.
// Without ?limit= the whole list comes back, as DESIGN.md's contract has
// it; with ?limit=N (1 to MaxPage) at most N, and when there are more a
// Link header (rel="next") gives the next page's URL, which continues
// after the page's last ticket (?after=, see cursor) so that tickets
// listed or reserved meanwhile neither repeat nor hide others.
func (s *Service) handleTicketList(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	l := Listing{Sort: Sort(query.Get("sort"))}
	if l.Sort == "" {
		l.Sort = SortNewest
	}
	if !l.Sort.Valid() {
		httpapi.Error(w, r, ErrBadSort)
		return
	}
	if err := parseCursor(&l, query.Get("after")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	limit, err := httpapi.ParseLimit(query, MaxPage)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	l.Limit = httpapi.Probe(limit)
	if l.Search, err = httpapi.ParseSearch(query); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, err := s.List(r.Context(), l)
	if err == nil {
		var more bool
		if list, more = httpapi.NextPage(list, limit); more {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {cursor(l.Sort, list[len(list)-1])}}
			if l.Search != "" {
				next.Set("q", l.Search)
			}
			if l.Sort != SortNewest {
				next.Set("sort", string(l.Sort))
			}
			httpapi.LinkNext(w, "/api/tickets", next)
		}
	}
	respondList(w, r, list, err)
}

// cursor is the after= that continues the list past t in sort's order:
// the ticket's id, and for the price orders "<price in cents>.<id>", as a
// price may change between two pages and the next page must start where
// this one ended.
func cursor(sort Sort, t Ticket) string {
	if sort == SortPriceAsc || sort == SortPriceDesc {
		return strconv.FormatInt(int64(t.Price), 10) + "." + t.ID
	}
	return t.ID
}

// parseCursor reads after (see cursor) into l, for l's sort. The id part
// is checked by List.
func parseCursor(l *Listing, after string) error {
	if after == "" || l.Sort == SortNewest {
		l.After = after
		return nil
	}
	price, id, ok := strings.Cut(after, ".")
	cents, err := strconv.ParseInt(price, 10, 64)
	if !ok || err != nil || cents < 0 || id == "" {
		return ErrBadCursor
	}
	l.After, l.AfterPrice = id, money.Cents(cents)
	return nil
}

// DefaultMinePage is the size of a page of GET /api/tickets/mine without
// ?limit=. Unlike GET /api/tickets, whose contract without ?limit= is the
// whole list, "mine" has always a page: a holder or a seller's history is
// not bounded (DESIGN.md 9.3), and a small list still comes whole in one.
const DefaultMinePage = MaxPage

// handleTicketMine answers GET /api/tickets/mine: the caller's own tickets,
// whatever their status, and those they hold, newest first (the web
// client's "My listings" and "My tickets"), DefaultMinePage at a time or
// ?limit=N (1 to MaxPage); a Link header (rel="next") gives the next page,
// which continues after the page's last ticket (?after=, its id).
func (s *Service) handleTicketMine(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	query := r.URL.Query()
	limit, err := httpapi.ParseLimit(query, MaxPage)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if limit == 0 {
		limit = DefaultMinePage
	}
	after := query.Get("after")
	list, err := s.Mine(r.Context(), user.ID, after, httpapi.Probe(limit))
	if err == nil {
		var more bool
		if list, more = httpapi.NextPage(list, limit); more {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {list[len(list)-1].ID}}
			httpapi.LinkNext(w, "/api/tickets/mine", next)
		}
	}
	respondList(w, r, list, err)
}

func respondList(w http.ResponseWriter, r *http.Request, list []Ticket, err error) {
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out := make([]ticketResponse, len(list))
	for i, t := range list {
		out[i] = toResponse(t, viewer(r))
	}
	httpapi.Respond(w, http.StatusOK, out)
}

func (s *Service) handleTicketGet(w http.ResponseWriter, r *http.Request) {
	t, err := s.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toResponse(t, viewer(r)))
}

func (s *Service) handleTicketCreate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	var in ticketRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	f, err := in.fields()
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	t, err := s.Create(r.Context(), user.ID, f)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusCreated, toResponse(t, viewer(r)))
}

// handleTicketUpdate answers PUT /api/tickets/{id}. As in the original, the
// body is checked before the ticket is looked up: a bad body is a 400 even
// for an unknown id.
func (s *Service) handleTicketUpdate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	var in ticketRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	f, err := in.fields()
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	t, err := s.Update(r.Context(), user.ID, r.PathValue("id"), f)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toResponse(t, viewer(r)))
}

// handleTicketWithdraw answers DELETE /api/tickets/{id}: the seller takes
// the ticket off sale for good.
func (s *Service) handleTicketWithdraw(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if err := s.Withdraw(r.Context(), user.ID, r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusNoContent, nil)
}

// codeResponse is a holder's entry code; Short is shown XXXX-XXXX-XXXX.
type codeResponse struct {
	TicketID    string `json:"ticketId"`
	EventID     string `json:"eventId"`
	CodeVersion int64  `json:"codeVersion"`
	Code        string `json:"code"`
	Short       string `json:"short"`
}

// handleTicketCode answers GET /api/tickets/{id}/code: the holder's entry
// code; 404 for anyone else, 409 ticket_void once the code is void.
func (s *Service) handleTicketCode(w http.ResponseWriter, r *http.Request) {
	c, err := s.Code(r.Context(), viewer(r), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, codeResponse{TicketID: c.TicketID, EventID: c.EventID,
		CodeVersion: c.CodeVersion, Code: c.Code, Short: entrycode.Format(c.Short)})
}

// checkinRequest is the body of POST /api/checkins.
type checkinRequest struct {
	Code    string `json:"code"`
	EventID string `json:"eventId"`
}

// checkinTicket names the ticket a check-in was about.
type checkinTicket struct {
	ID      string `json:"id"`
	EventID string `json:"eventId"`
}

// checkinResponse is a door's answer. Ticket is null for an invalid code,
// CheckedInAt null unless admitted or already used.
type checkinResponse struct {
	Result      Result         `json:"result"`
	Ticket      *checkinTicket `json:"ticket"`
	CheckedInAt *time.Time     `json:"checkedInAt"`
}

// handleCheckin answers POST /api/checkins {code, eventId}: the door's
// scan of a full code or a short form.
func (s *Service) handleCheckin(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	var in checkinRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	c, err := s.CheckInCode(r.Context(), user, in.Code, strings.TrimSpace(in.EventID))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out := checkinResponse{Result: c.Result}
	if c.TicketID != "" {
		out.Ticket = &checkinTicket{ID: c.TicketID, EventID: c.EventID}
	}
	if !c.CheckedInAt.IsZero() {
		out.CheckedInAt = &c.CheckedInAt
	}
	httpapi.Respond(w, http.StatusOK, out)
}

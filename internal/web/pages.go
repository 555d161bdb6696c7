package web

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// begin starts a page: who the caller is (for the header) and their CSRF
// token (for the forms every page has, sign out included). On failure it has
// already answered.
func (s *Service) begin(w http.ResponseWriter, r *http.Request, title, nav string) (*view, bool) {
	u, err := s.api.currentUser(r)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return &view{Title: title, Nav: nav, User: u, CSRF: s.csrfToken(w, r), Flash: flash(r)}, true
}

// beginSignedIn is begin for pages that need an account: a signed-out
// person is sent to sign in first.
func (s *Service) beginSignedIn(w http.ResponseWriter, r *http.Request, title, nav string) (*view, bool) {
	v, ok := s.begin(w, r, title, nav)
	if ok && v.User == nil {
		s.toSignIn(w, r)
		return nil, false
	}
	return v, ok
}

// seeOther is the redirect of post/redirect/get.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// passCookies hands the API's Set-Cookie headers (the session) to the
// browser.
func passCookies(w http.ResponseWriter, cookies []string) {
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
}

// ----- index -----

type indexData struct {
	Q string
	// Sort is the list's order as the API names it ("" for newest).
	Sort    string
	Tickets []ticket
	// More is the URL of the next page, First that of the first one; each
	// is empty when there is no such page to go to.
	More, First string
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
	// One ticket more than the page says whether there is a next page.
	query := url.Values{"limit": {strconv.Itoa(indexPage + 1)}}
	page := url.Values{}
	for k, val := range map[string]string{"q": q, "sort": sort} {
		if val != "" {
			query.Set(k, val) // an unknown sort is the API's to refuse
			page.Set(k, val)
		}
	}
	if after != "" {
		query.Set("after", after)
	}
	var list []ticket
	if _, err := s.api.call(r, http.MethodGet, "/api/tickets?"+query.Encode(), nil, &list); err != nil {
		if statusOf(err) != http.StatusBadRequest {
			s.fail(w, r, err)
			return
		}
		v.Form.addAPIError(err, "q", "sort")
	}
	d := indexData{Q: q, Sort: sort, Tickets: list}
	if after != "" {
		d.First = indexURL(page)
	}
	if len(list) > indexPage {
		d.Tickets = list[:indexPage]
		page.Set("after", indexCursor(sort, d.Tickets[indexPage-1]))
		d.More = indexURL(page)
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

// ----- sign up, sign in, sign out -----

type authData struct {
	Action string // "signup" or "signin"
	Next   string
}

func nextParam(r *http.Request) string {
	n := r.FormValue("next")
	if !localPath(n) {
		return ""
	}
	return n
}

func (s *Service) handleSignUpForm(w http.ResponseWriter, r *http.Request) {
	s.authForm(w, r, "signup", nil, http.StatusOK)
}

func (s *Service) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	s.authForm(w, r, "signin", nil, http.StatusOK)
}

func (s *Service) authForm(w http.ResponseWriter, r *http.Request, action string, f *form, status int) {
	title := "Sign up"
	if action == "signin" {
		title = "Sign in"
	}
	v, ok := s.begin(w, r, title, action)
	if !ok {
		return
	}
	if v.User != nil && f == nil {
		seeOther(w, r, "/")
		return
	}
	if f == nil {
		f = newForm(nil)
	}
	v.Form = f
	v.Data = authData{Action: action, Next: nextParam(r)}
	s.render(w, r, status, "auth", v)
}

func (s *Service) handleSignUp(w http.ResponseWriter, r *http.Request) { s.authSubmit(w, r, "signup") }
func (s *Service) handleSignIn(w http.ResponseWriter, r *http.Request) { s.authSubmit(w, r, "signin") }

func (s *Service) authSubmit(w http.ResponseWriter, r *http.Request, action string) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	body := map[string]string{"email": email, "password": r.PostForm.Get("password")}
	cookies, err := s.api.call(r, http.MethodPost, "/api/users/"+action, body, nil)
	if err != nil {
		if st := statusOf(err); st == 0 || st >= 500 || st == http.StatusNotFound {
			s.fail(w, r, err)
			return
		}
		// Keep the email; a password is never written back into a page.
		f := newForm(url.Values{"email": {email}})
		f.addAPIError(err, "email", "password")
		s.authForm(w, r, action, f, http.StatusUnprocessableEntity)
		return
	}
	passCookies(w, cookies)
	s.setCSRF(w)
	to := nextParam(r)
	if to == "" {
		to = "/?m=signedin"
		if action == "signup" {
			to = "/?m=welcome"
		}
	}
	seeOther(w, r, to)
}

func (s *Service) handleSignOutForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Sign out", "")
	if !ok {
		return
	}
	if v.User == nil {
		seeOther(w, r, "/")
		return
	}
	s.render(w, r, http.StatusOK, "signout", v)
}

// handleSignOut always signs the browser out: if the API cannot be reached,
// the session cookie is cleared here. With everywhere=1 it ends every
// session of the account.
func (s *Service) handleSignOut(w http.ResponseWriter, r *http.Request) {
	path := "/api/users/signout"
	if r.PostForm.Get("everywhere") == "1" {
		path = "/api/users/signout-all"
	}
	cookies, err := s.api.call(r, http.MethodPost, path, nil, nil)
	if err != nil || len(cookies) == 0 {
		if err != nil {
			s.log.Warn("web signout", "err", err)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	}
	passCookies(w, cookies)
	s.setCSRF(w)
	seeOther(w, r, "/?m=signedout")
}

// ----- tickets -----

type ticketFormData struct {
	Ticket *ticket // nil when selling a new one
}

func (s *Service) handleTicketNewForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Sell a ticket", "sell")
	if !ok {
		return
	}
	v.Form = newForm(nil)
	v.Data = ticketFormData{}
	s.render(w, r, http.StatusOK, "ticket_form", v)
}

// ticketBody is the API body from the form. An empty price is left out so
// the API says "Price is required" rather than complaining about notation.
func ticketBody(r *http.Request) map[string]any {
	body := map[string]any{"title": r.PostForm.Get("title")}
	if p := priceInput(r.PostForm.Get("price")); p != "" {
		body["price"] = p
	}
	return body
}

func (s *Service) handleTicketCreate(w http.ResponseWriter, r *http.Request) {
	var t ticket
	_, err := s.api.call(r, http.MethodPost, "/api/tickets", ticketBody(r), &t)
	if statusOf(err) == http.StatusBadRequest {
		v, ok := s.beginSignedIn(w, r, "Sell a ticket", "sell")
		if !ok {
			return
		}
		v.Form = newForm(r.PostForm)
		v.Form.addAPIError(err, "title", "price")
		v.Data = ticketFormData{}
		s.render(w, r, http.StatusUnprocessableEntity, "ticket_form", v)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/tickets/"+url.PathEscape(t.ID)+"?m=listed")
}

type ticketData struct {
	Ticket   ticket
	Mine     bool
	Reserved bool
}

func (s *Service) handleTicketShow(w http.ResponseWriter, r *http.Request) {
	s.showTicket(w, r, nil, http.StatusOK)
}

// showTicket renders the ticket page, with the problems of a purchase that
// did not go through when f is set.
func (s *Service) showTicket(w http.ResponseWriter, r *http.Request, f *form, status int) {
	v, ok := s.begin(w, r, "Ticket", "")
	if !ok {
		return
	}
	var t ticket
	if _, err := s.api.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(r.PathValue("id")), nil, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = t.Title
	v.Form = f
	v.Data = ticketData{Ticket: t, Mine: v.User != nil && v.User.ID == t.UserID, Reserved: t.OrderID != ""}
	s.render(w, r, status, "ticket", v)
}

// handleTicketPurchase reserves the ticket with a new order and shows it.
func (s *Service) handleTicketPurchase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var o order
	err := s.reserve(r, id, &o)
	switch st := statusOf(err); {
	case err == nil:
		seeOther(w, r, "/orders/"+url.PathEscape(o.ID))
	case st == http.StatusUnauthorized:
		http.Redirect(w, r, "/auth/signin?next="+url.QueryEscape("/tickets/"+id), http.StatusSeeOther)
	case st == http.StatusBadRequest || st == http.StatusTooManyRequests || st == http.StatusNotFound:
		f := newForm(nil)
		if st == http.StatusNotFound {
			// The ticket exists (or showTicket renders the 404 page) but the
			// orders service has not heard of it yet.
			f.General = append(f.General, "This ticket was listed a moment ago and is not ready to buy yet. Please try again in a few seconds.")
		} else {
			f.addAPIError(err)
		}
		s.showTicket(w, r, f, http.StatusConflict)
	default:
		s.fail(w, r, err)
	}
}

// reserve creates the order. Orders learns of a new ticket from an event,
// so for a moment after it is listed the ticket exists but orders answers
// 404.
func (s *Service) reserve(r *http.Request, ticketID string, o *order) error {
	return s.untilKnown(r,
		func() error {
			_, err := s.api.call(r, http.MethodPost, "/api/orders", map[string]string{"ticketId": ticketID}, o)
			return err
		},
		func() bool {
			_, err := s.api.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(ticketID), nil, nil)
			return err == nil
		})
}

// untilKnown calls call until it answers something other than 404, for a
// few seconds at most, as long as exists confirms that what it refers to is
// real. Services learn of each other's records from events, a moment after
// the fact: a person who acts in that moment should not see a spurious
// "not found". Without exists (or when it says no) the first answer stands.
func (s *Service) untilKnown(r *http.Request, call func() error, exists func() bool) error {
	ctx, cancel := context.WithTimeout(r.Context(), 4*time.Second)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := call()
		if statusOf(err) != http.StatusNotFound || !exists() {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

func (s *Service) handleTicketEditForm(w http.ResponseWriter, r *http.Request) {
	s.editTicket(w, r, nil, http.StatusOK)
}

func (s *Service) editTicket(w http.ResponseWriter, r *http.Request, f *form, status int) {
	v, ok := s.beginSignedIn(w, r, "Edit listing", "listings")
	if !ok {
		return
	}
	var t ticket
	if _, err := s.api.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(r.PathValue("id")), nil, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if t.UserID != v.User.ID {
		s.renderError(w, r, http.StatusForbidden, "Not your ticket", "Only the seller can edit this ticket.")
		return
	}
	if f == nil {
		f = newForm(url.Values{"title": {t.Title}, "price": {t.Price.String()}})
	}
	if t.OrderID != "" && len(f.General) == 0 {
		f.General = append(f.General, "This ticket is reserved by a buyer, so it cannot be changed right now.")
	}
	v.Form = f
	v.Data = ticketFormData{Ticket: &t}
	s.render(w, r, status, "ticket_form", v)
}

func (s *Service) handleTicketUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.api.call(r, http.MethodPut, "/api/tickets/"+url.PathEscape(id), ticketBody(r), nil)
	switch statusOf(err) {
	case 0:
		if err != nil {
			s.fail(w, r, err)
			return
		}
		seeOther(w, r, "/listings?m=updated")
	case http.StatusBadRequest:
		f := newForm(r.PostForm)
		f.addAPIError(err, "title", "price")
		s.editTicket(w, r, f, http.StatusUnprocessableEntity)
	case http.StatusUnauthorized:
		// Signed out, or not the owner: editTicket tells which.
		s.editTicket(w, r, nil, http.StatusForbidden)
	default:
		s.fail(w, r, err)
	}
}

type listingsData struct{ Tickets []ticket }

func (s *Service) handleListings(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "My listings", "listings")
	if !ok {
		return
	}
	var list []ticket
	if _, err := s.api.call(r, http.MethodGet, "/api/tickets/mine", nil, &list); err != nil {
		s.fail(w, r, err)
		return
	}
	v.Data = listingsData{Tickets: list}
	s.render(w, r, http.StatusOK, "listings", v)
}

// ----- orders -----

type orderRow struct {
	order
	Label   string
	Expired bool
	// Reason is why a cancelled order was cancelled, in words.
	Reason string
}

func (s *Service) row(o order) orderRow {
	open := o.Status == statusCreated || o.Status == statusAwaitingPayment
	expired := open && !s.cfg.Now().Before(o.ExpiresAt)
	r := orderRow{order: o, Label: statusLabel(o.Status, expired), Expired: expired}
	if o.Status == statusCancelled {
		r.Reason = cancelReason(o.CancelledBy)
	}
	return r
}

type ordersData struct{ Orders []orderRow }

func (s *Service) handleOrderList(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "My orders", "orders")
	if !ok {
		return
	}
	var list []order
	if _, err := s.api.call(r, http.MethodGet, "/api/orders", nil, &list); err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]orderRow, len(list))
	for i, o := range list {
		rows[i] = s.row(o)
	}
	v.Data = ordersData{Orders: rows}
	s.render(w, r, http.StatusOK, "orders", v)
}

// testCard is one of the sandbox's test cards, as the pay form lists them.
type testCard struct {
	Token, Label, Outcome string
	OK                    bool
}

func sandboxCards() []testCard {
	return []testCard{
		{Token: "tok_visa", Label: "Visa ending 4242", Outcome: "payment succeeds", OK: true},
		{Token: "tok_chargeDeclined", Label: "Visa ending 0002", Outcome: "card is declined", OK: false},
	}
}

type orderData struct {
	Order    orderRow
	Payable  bool
	Left     string // the countdown's first value, m:ss
	ServerAt string // the server's clock, so the script can correct a skewed one
	Cards    []testCard
}

func (s *Service) handleOrderShow(w http.ResponseWriter, r *http.Request) {
	s.showOrder(w, r, nil, http.StatusOK)
}

func (s *Service) showOrder(w http.ResponseWriter, r *http.Request, f *form, status int) {
	v, ok := s.beginSignedIn(w, r, "Your order", "orders")
	if !ok {
		return
	}
	var o order
	if _, err := s.api.call(r, http.MethodGet, "/api/orders/"+url.PathEscape(r.PathValue("id")), nil, &o); err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			// Someone else's order: say no more than for an unknown one.
			s.notFound(w, r)
			return
		}
		s.fail(w, r, err)
		return
	}
	if f == nil {
		f = newForm(url.Values{"token": {"tok_visa"}})
	}
	now := s.cfg.Now()
	row := s.row(o)
	v.Form = f
	v.Data = orderData{
		Order:    row,
		Payable:  (o.Status == statusCreated || o.Status == statusAwaitingPayment) && !row.Expired,
		Left:     clock(o.ExpiresAt.Sub(now)),
		ServerAt: isoTime(now),
		Cards:    sandboxCards(),
	}
	v.Scripts = []string{s.asset("countdown.js")}
	if s.cfg.StripePublishableKey != "" {
		v.Stripe = s.cfg.StripePublishableKey
		v.Scripts = append(v.Scripts, "https://js.stripe.com/v3/", s.asset("stripe.js"))
	}
	s.render(w, r, status, "order", v)
}

func (s *Service) handleOrderPay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		f := newForm(r.PostForm)
		f.Errors["token"] = "Choose a card to pay with."
		s.showOrder(w, r, f, http.StatusUnprocessableEntity)
		return
	}
	// Payments learns of the order from an event: right after the purchase
	// it may not know it yet.
	err := s.untilKnown(r,
		func() error {
			_, err := s.api.call(r, http.MethodPost, "/api/payments", map[string]string{"orderId": id, "token": token}, nil)
			return err
		},
		func() bool {
			_, err := s.api.call(r, http.MethodGet, "/api/orders/"+url.PathEscape(id), nil, nil)
			return err == nil
		})
	switch st := statusOf(err); {
	case err == nil:
		// Charged; but only a complete order means the ticket is the
		// buyer's. An order cancelled meanwhile (the payment came after
		// the expiry, or the seller's edit overtook the reservation) has
		// its payment refunded, and the buyer must hear that instead.
		switch s.awaitSettled(r, id) {
		case statusComplete:
			seeOther(w, r, "/orders?m=paid")
		case statusCancelled:
			seeOther(w, r, "/orders/"+url.PathEscape(id)+"?m=refunded")
		default:
			seeOther(w, r, "/orders/"+url.PathEscape(id)+"?m=paying")
		}
	case st == http.StatusBadRequest || st == http.StatusPaymentRequired:
		f := newForm(r.PostForm)
		f.addAPIError(err, "token")
		s.showOrder(w, r, f, http.StatusUnprocessableEntity)
	case st == http.StatusNotFound:
		// The order exists (or showOrder renders the 404 page) but payments
		// has not heard of it yet.
		f := newForm(r.PostForm)
		f.General = append(f.General, "This order was placed a moment ago and is not ready for payment yet. Please try again in a few seconds.")
		s.showOrder(w, r, f, http.StatusConflict)
	case st == http.StatusUnauthorized && s.signedIn(r):
		s.notFound(w, r)
	default:
		s.fail(w, r, err)
	}
}

// signedIn reports whether the caller has a valid session, as the API sees
// it.
func (s *Service) signedIn(r *http.Request) bool {
	u, err := s.api.currentUser(r)
	return err == nil && u != nil
}

// awaitSettled waits, briefly, until orders has applied the payment, and
// returns the order's status then: complete, or cancelled when the payment
// came too late (it is refunded). If it takes longer, it returns the
// status of the moment (or "" when the order cannot be read), and the
// page shows the truth of the moment.
func (s *Service) awaitSettled(r *http.Request, orderID string) string {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		var o order
		if _, err := s.api.call(r, http.MethodGet, "/api/orders/"+url.PathEscape(orderID), nil, &o); err != nil {
			return ""
		}
		if o.Status == statusComplete || o.Status == statusCancelled {
			return o.Status
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return o.Status
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func (s *Service) handleOrderCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.api.call(r, http.MethodDelete, "/api/orders/"+url.PathEscape(id), nil, nil)
	switch st := statusOf(err); {
	case err == nil:
		seeOther(w, r, "/orders?m=cancelled")
	case st == http.StatusBadRequest:
		f := newForm(nil)
		f.addAPIError(err)
		s.showOrder(w, r, f, http.StatusConflict)
	case st == http.StatusUnauthorized && s.signedIn(r):
		s.notFound(w, r)
	default:
		s.fail(w, r, err)
	}
}

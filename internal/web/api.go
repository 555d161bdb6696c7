package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// apiClient calls the HTTP API through the gateway on behalf of the person
// whose request is being served.
type apiClient struct {
	base    *url.URL
	http    *http.Client
	trusted []netip.Prefix
}

func newAPIClient(base *url.URL, rt http.RoundTripper, trusted []netip.Prefix) *apiClient {
	if rt == nil {
		// Every call goes to one host, the gateway: keep as many idle
		// connections to it as calls in flight, not http.DefaultTransport's
		// 2 per host (under load each call past the second opened a new
		// connection and closed it after the answer).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 128
		rt = t
	}
	return &apiClient{base: base, trusted: trusted, http: &http.Client{
		Transport: rt,
		Timeout:   15 * time.Second,
		// The API never redirects; if something in between does, the page
		// must see that answer rather than follow it with the cookie.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// sessionCookie is the API's session cookie (DESIGN.md section 3).
const sessionCookie = "session"

// fieldError is one entry of the API's {"errors":[...]} body.
type fieldError struct {
	Message string `json:"message"`
	Field   string `json:"field"`
	Code    string `json:"code"`
}

// apiError is an API answer that is not a success: a client error the page
// shows to the person (400, 401, 402, 404, 429).
type apiError struct {
	Status     int
	Errors     []fieldError
	RetryAfter string
}

func (e *apiError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Message
	}
	return fmt.Sprintf("api: %d %s", e.Status, strings.Join(msgs, "; "))
}

// errUnavailable means the API could not be reached or answered 5xx: the
// page cannot be built, and the person gets the "try again shortly" page.
var errUnavailable = errors.New("api unavailable")

// statusOf is the API status behind err, or 0.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// errorCode is the stable code of the API's first error behind err
// (docs/ARCHITECTURE.md lists them), or "".
func errorCode(err error) string {
	var ae *apiError
	if errors.As(err, &ae) && len(ae.Errors) > 0 {
		return ae.Errors[0].Code
	}
	return ""
}

// call sends one request to the API as the person behind r: only their
// session cookie is forwarded (not the CSRF cookie, nor anything else the
// browser holds), along with their address for the API's rate limits: the
// one client address httpapi.ClientAddr finds, never the browser's own
// X-Forwarded-For, so a browser can neither pose as another address nor
// make all browsers one (the web server's or a proxy's). A 2xx
// answer is decoded into out; its Set-Cookie headers are returned for the
// handlers that must pass them on (sign in, up and out).
func (c *apiClient) call(r *http.Request, method, path string, body, out any) ([]string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	rel, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", path, err)
	}
	// An id from the person's URL can decode to "..", "." or hold an
	// escaped slash: the API's router would answer such a path with a
	// redirect to a cleaned one (another resource), which is no answer
	// about this id. No id looks like that, so it names nothing: a 404.
	if dotSegments(rel.Path) {
		return nil, &apiError{Status: http.StatusNotFound, Errors: []fieldError{{Message: "Not found"}}}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + rel.Path
	// Keep the escapes (%2F inside an id), or the id would become segments.
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + rel.EscapedPath()
	u.RawQuery = rel.RawQuery
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: ck.Value})
	}
	req.Header.Set("X-Forwarded-For", httpapi.ClientAddr(r, c.trusted))
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(r.Context().Err(), context.Canceled) {
			return nil, r.Context().Err()
		}
		return nil, fmt.Errorf("%w: %s %s: %v", errUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s %s: %v", errUnavailable, method, path, err)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("%w: %s %s: status %d", errUnavailable, method, path, resp.StatusCode)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var eb struct {
			Errors []fieldError `json:"errors"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			ae.Errors = eb.Errors
		}
		return nil, ae
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%w: decode %s %s: %v", errUnavailable, method, path, err)
		}
	}
	return resp.Header.Values("Set-Cookie"), nil
}

// dotSegments reports whether the decoded path p holds an empty, "." or
// ".." segment, which a router cleans away.
func dotSegments(p string) bool {
	p += "/"
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../")
}

// The API's resources, as the pages use them.

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// Organizer: an operator made the account an organizer (DESIGN.md
	// section 9.1); only then are the organizer's pages offered.
	Organizer bool `json:"organizer"`
}

type ticket struct {
	ID      string      `json:"id"`
	Title   string      `json:"title"`
	Price   money.Cents `json:"price"`
	UserID  string      `json:"userId"`
	Version int64       `json:"version"`
	OrderID string      `json:"orderId"`
	Status  string      `json:"status"`
	SoldAt  time.Time   `json:"soldAt"`
	// EventID is the event of a ticket the platform issued; "" for a
	// free-form listing.
	EventID string `json:"eventId"`
	// HeldByYou: the caller holds this issued ticket (status held, or
	// void once its code is dead); CodeVersion is then its code's version.
	HeldByYou   bool  `json:"heldByYou"`
	CodeVersion int64 `json:"codeVersion"`
	// Resale: an issued ticket its holder lists for resale (on sale or
	// reserved), a verified resale the buyer gets a new code for.
	Resale bool `json:"resale"`
	// WithdrawnReason tells the holder why their listing left sale
	// without them ("over_resale_cap"), WithdrawnCap the cap it was over.
	WithdrawnReason string      `json:"withdrawnReason"`
	WithdrawnCap    money.Cents `json:"withdrawnCap"`
}

// Statuses of an issued ticket once sold (DESIGN.md section 9.2).
const (
	ticketHeld = "held"
	ticketVoid = "void"
	// A held ticket its holder lists for resale is on sale, and reserved
	// while a buyer's order holds it (DESIGN.md 9.3).
	ticketOnSale   = "on_sale"
	ticketReserved = "reserved"
)

// entryCode is a held ticket's code (GET /api/tickets/{id}/code), shown to
// its holder only.
type entryCode struct {
	TicketID    string `json:"ticketId"`
	EventID     string `json:"eventId"`
	CodeVersion int64  `json:"codeVersion"`
	// Code is the signed code the QR code holds; Short its short form for
	// typing at the door, XXXX-XXXX-XXXX.
	Code  string `json:"code"`
	Short string `json:"short"`
}

// checkin is the answer of POST /api/checkins.
type checkin struct {
	// Result is admitted, already_used, void, wrong_event, event_ended or
	// invalid.
	Result string `json:"result"`
	Ticket struct {
		ID      string `json:"id"`
		EventID string `json:"eventId"`
	} `json:"ticket"`
	// CheckedInAt is the (first) admission: now when admitted, the
	// earlier one when already used.
	CheckedInAt time.Time `json:"checkedInAt"`
}

type order struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expiresAt"`
	Version   int64     `json:"version"`
	// CancelledBy says why a cancelled order was (buyer, expiry,
	// price_change, ...).
	CancelledBy string `json:"cancelledBy"`
	// PaymentID on a cancelled order is a payment being refunded.
	PaymentID string `json:"paymentId"`
	// PaidAt (complete) and CancelledAt (cancelled) are when the order
	// took its status; zero when not known.
	PaidAt      time.Time `json:"paidAt"`
	CancelledAt time.Time `json:"cancelledAt"`
	// ReserveAgainAt, on an order the buyer cancelled or let expire, is
	// when they may reserve its ticket again; zero otherwise.
	ReserveAgainAt time.Time `json:"reserveAgainAt"`
	// Notice is what the API says of the order beyond its status ("Event
	// cancelled — refund pending" on a paid order whose event was
	// cancelled).
	Notice string `json:"notice"`
	// Refund is "pending" while the order's refund (its event was
	// cancelled) is on its way, "refunded" once done; "" otherwise.
	Refund string `json:"refund"`
	Ticket struct {
		ID    string      `json:"id"`
		Title string      `json:"title"`
		Price money.Cents `json:"price"`
		// EventID is the event of a ticket the platform issued; "" for a
		// free-form listing.
		EventID string `json:"eventId"`
	} `json:"ticket"`
	// Fee is the service fee the order took, Total the price plus the
	// fee: what the buyer pays.
	Fee   money.Cents `json:"fee"`
	Total money.Cents `json:"total"`
}

// Order statuses (DESIGN.md section 3).
const (
	statusCreated         = "created"
	statusCancelled       = "cancelled"
	statusAwaitingPayment = "awaiting:payment"
	statusComplete        = "complete"
)

// The API's endpoints as typed calls, so a page handler names what it
// wants and never an API path. Each takes the request being served: the
// call is made as that person (see call).

// CurrentUser asks the API who the caller is; nil when signed out.
func (c *apiClient) CurrentUser(r *http.Request) (*user, error) {
	var out struct {
		CurrentUser *user `json:"currentUser"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/users/currentuser", nil, &out); err != nil {
		return nil, err
	}
	return out.CurrentUser, nil
}

// SignUp creates an account and signs in; SignIn signs in. Both return the
// session's Set-Cookie headers for the browser.
func (c *apiClient) SignUp(r *http.Request, email, password string) ([]string, error) {
	return c.call(r, http.MethodPost, "/api/users/signup", map[string]string{"email": email, "password": password}, nil)
}

func (c *apiClient) SignIn(r *http.Request, email, password string) ([]string, error) {
	return c.call(r, http.MethodPost, "/api/users/signin", map[string]string{"email": email, "password": password}, nil)
}

// SignOut ends the caller's session, or with everywhere every session of
// the account; it returns the Set-Cookie headers that clear the cookie.
func (c *apiClient) SignOut(r *http.Request, everywhere bool) ([]string, error) {
	path := "/api/users/signout"
	if everywhere {
		path = "/api/users/signout-all"
	}
	return c.call(r, http.MethodPost, path, nil, nil)
}

// ticketQuery is a page of the tickets on sale.
type ticketQuery struct {
	Q     string // words to search for; "" for all
	Sort  string // newest (""), price_asc or price_desc
	After string // the cursor of the previous page's last ticket (indexCursor)
	Limit int
	// EventID keeps the resale listings of that event.
	EventID string
}

// Tickets lists the tickets on sale.
func (c *apiClient) Tickets(r *http.Request, q ticketQuery) ([]ticket, error) {
	query := url.Values{}
	if q.Limit > 0 {
		query.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Q != "" {
		query.Set("q", q.Q)
	}
	if q.Sort != "" {
		query.Set("sort", q.Sort)
	}
	if q.After != "" {
		query.Set("after", q.After)
	}
	if q.EventID != "" {
		query.Set("eventId", q.EventID)
	}
	var list []ticket
	_, err := c.call(r, http.MethodGet, "/api/tickets?"+query.Encode(), nil, &list)
	return list, err
}

// minePage is the size of the pages MyTickets asks for (the API's most),
// and myTicketsPages how many it follows at most: My listings and My
// tickets each show a part of the caller's tickets, so they take them all
// rather than page through one list, up to a bound that keeps one page
// view from turning into an unbounded walk.
const (
	minePage       = 100
	myTicketsPages = 20
)

// MyTickets lists the caller's own listings and the tickets they hold,
// newest first, following GET /api/tickets/mine's pages (each continues
// after the previous page's last ticket) up to myTicketsPages of them.
func (c *apiClient) MyTickets(r *http.Request) ([]ticket, error) {
	var all []ticket
	after := ""
	for range myTicketsPages {
		query := url.Values{"limit": {strconv.Itoa(minePage)}}
		if after != "" {
			query.Set("after", after)
		}
		var list []ticket
		if _, err := c.call(r, http.MethodGet, "/api/tickets/mine?"+query.Encode(), nil, &list); err != nil {
			return nil, err
		}
		all = append(all, list...)
		if len(list) < minePage {
			break
		}
		after = list[len(list)-1].ID
	}
	return all, nil
}

// Ticket is one ticket.
func (c *apiClient) Ticket(r *http.Request, id string) (ticket, error) {
	var t ticket
	_, err := c.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(id), nil, &t)
	return t, err
}

// TicketCode is the caller's code for the ticket they hold: 404 for anyone
// else, 409 ticket_void once it is void.
func (c *apiClient) TicketCode(r *http.Request, id string) (entryCode, error) {
	var out entryCode
	_, err := c.call(r, http.MethodGet, "/api/tickets/"+url.PathEscape(id)+"/code", nil, &out)
	return out, err
}

// CheckIn checks a code in at the door of the event.
func (c *apiClient) CheckIn(r *http.Request, eventID, code string) (checkin, error) {
	var out checkin
	_, err := c.call(r, http.MethodPost, "/api/checkins", map[string]string{"code": code, "eventId": eventID}, &out)
	return out, err
}

// ticketInput is what a seller sends for a ticket. Price is the API's
// decimal notation; "" leaves it out, so the API says it is required.
type ticketInput struct {
	Title string
	Price string
}

func (in ticketInput) body() map[string]any {
	body := map[string]any{"title": in.Title}
	if in.Price != "" {
		body["price"] = in.Price
	}
	return body
}

// CreateTicket lists a new ticket.
func (c *apiClient) CreateTicket(r *http.Request, in ticketInput) (ticket, error) {
	var t ticket
	_, err := c.call(r, http.MethodPost, "/api/tickets", in.body(), &t)
	return t, err
}

// WithdrawTicket takes the seller's ticket off sale for good.
func (c *apiClient) WithdrawTicket(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodDelete, "/api/tickets/"+url.PathEscape(id), nil, nil)
	return err
}

// UpdateTicket changes the seller's ticket.
func (c *apiClient) UpdateTicket(r *http.Request, id string, in ticketInput) error {
	_, err := c.call(r, http.MethodPut, "/api/tickets/"+url.PathEscape(id), in.body(), nil)
	return err
}

// Orders lists the caller's orders.
func (c *apiClient) Orders(r *http.Request) ([]order, error) {
	var list []order
	_, err := c.call(r, http.MethodGet, "/api/orders", nil, &list)
	return list, err
}

// Order is one of the caller's orders.
func (c *apiClient) Order(r *http.Request, id string) (order, error) {
	var o order
	_, err := c.call(r, http.MethodGet, "/api/orders/"+url.PathEscape(id), nil, &o)
	return o, err
}

// Reserve orders the ticket, which reserves it for the caller.
func (c *apiClient) Reserve(r *http.Request, ticketID string) (order, error) {
	var o order
	_, err := c.call(r, http.MethodPost, "/api/orders", map[string]string{"ticketId": ticketID}, &o)
	return o, err
}

// CancelOrder cancels the caller's unpaid order.
func (c *apiClient) CancelOrder(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodDelete, "/api/orders/"+url.PathEscape(id), nil, nil)
	return err
}

// Pay charges the card behind token for the order.
func (c *apiClient) Pay(r *http.Request, orderID, token string) error {
	_, err := c.call(r, http.MethodPost, "/api/payments", map[string]string{"orderId": orderID, "token": token}, nil)
	return err
}

// event is an organizer's event (GET /api/events/{id}).
type event struct {
	ID               string      `json:"id"`
	OrganizerID      string      `json:"organizerId"`
	Name             string      `json:"name"`
	Venue            string      `json:"venue"`
	TimeZone         string      `json:"timeZone"`
	StartsAt         time.Time   `json:"startsAt"`
	EndsAt           time.Time   `json:"endsAt"`
	OnSaleAt         time.Time   `json:"onSaleAt"`
	FaceValue        money.Cents `json:"faceValue"`
	Capacity         int         `json:"capacity"`
	ResaleCapPercent int         `json:"resaleCapPercent"`
	Transfers        bool        `json:"transfers"`
	Queue            bool        `json:"queue"`
	Status           string      `json:"status"`
	Version          int64       `json:"version"`
	TicketsLeft      int64       `json:"ticketsLeft"`
	TicketsIssued    int64       `json:"ticketsIssued"`
	// Staff are the door staff's emails, shown to the organizer only.
	Staff []string `json:"staff"`
}

// Event statuses (DESIGN.md section 9.1).
const (
	eventScheduled = "scheduled"
	eventCancelled = "cancelled"
	eventEnded     = "ended"
)

// Sold is how many of the event's issued tickets are no longer on sale:
// sales so far (reserved ones included).
func (e event) Sold() int64 { return max(e.TicketsIssued-e.TicketsLeft, 0) }

// Issuing says the tickets part has not issued all of the event's tickets
// yet (a moment after creation): none left is then not a sell-out.
func (e event) Issuing() bool { return e.TicketsIssued < int64(e.Capacity) }

// eventQuery is a page of the upcoming events.
type eventQuery struct {
	Q     string // words to search for; "" for all
	After string // the cursor of the previous page's last event (eventCursor)
	Limit int
}

// Events lists the upcoming events, soonest first.
func (c *apiClient) Events(r *http.Request, q eventQuery) ([]event, error) {
	query := url.Values{}
	if q.Limit > 0 {
		query.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Q != "" {
		query.Set("q", q.Q)
	}
	if q.After != "" {
		query.Set("after", q.After)
	}
	var list []event
	_, err := c.call(r, http.MethodGet, "/api/events?"+query.Encode(), nil, &list)
	return list, err
}

// MyEvents lists the caller's own events, whatever their status.
func (c *apiClient) MyEvents(r *http.Request) ([]event, error) {
	var list []event
	_, err := c.call(r, http.MethodGet, "/api/events/mine", nil, &list)
	return list, err
}

// Event is one event.
func (c *apiClient) Event(r *http.Request, id string) (event, error) {
	var e event
	_, err := c.call(r, http.MethodGet, "/api/events/"+url.PathEscape(id), nil, &e)
	return e, err
}

// eventInput is the body of creating or editing an event. A field left
// empty is left out: the API then applies its default (end, on-sale time),
// keeps the old value when editing, or says it is required. Capacity and
// the resale cap go as the digits typed, which the API reads as numbers,
// so that what it cannot read is its to name.
type eventInput struct {
	Name             string `json:"name"`
	Venue            string `json:"venue"`
	TimeZone         string `json:"timeZone,omitempty"`
	StartsAt         string `json:"startsAt,omitempty"` // RFC 3339, UTC
	EndsAt           string `json:"endsAt,omitempty"`
	OnSaleAt         string `json:"onSaleAt,omitempty"`
	FaceValue        string `json:"faceValue,omitempty"` // "1234.50"
	Capacity         string `json:"capacity,omitempty"`
	ResaleCapPercent string `json:"resaleCapPercent,omitempty"`
	Transfers        bool   `json:"transfers"`
	Queue            bool   `json:"queue"`
}

// CreateEvent creates an event from the body eventForm built.
func (c *apiClient) CreateEvent(r *http.Request, body eventInput) (event, error) {
	var e event
	_, err := c.call(r, http.MethodPost, "/api/events", body, &e)
	return e, err
}

// UpdateEvent changes the organizer's event: the fields body gives.
func (c *apiClient) UpdateEvent(r *http.Request, id string, body eventInput) (event, error) {
	var e event
	_, err := c.call(r, http.MethodPut, "/api/events/"+url.PathEscape(id), body, &e)
	return e, err
}

// CancelEvent cancels the organizer's event.
func (c *apiClient) CancelEvent(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodPost, "/api/events/"+url.PathEscape(id)+"/cancel", nil, nil)
	return err
}

// AddStaff makes email door staff of the organizer's event.
func (c *apiClient) AddStaff(r *http.Request, id, email string) error {
	_, err := c.call(r, http.MethodPost, "/api/events/"+url.PathEscape(id)+"/staff", map[string]string{"email": email}, nil)
	return err
}

// RemoveStaff takes email off the event's door staff.
func (c *apiClient) RemoveStaff(r *http.Request, id, email string) error {
	_, err := c.call(r, http.MethodDelete, "/api/events/"+url.PathEscape(id)+"/staff/"+url.PathEscape(email), nil, nil)
	return err
}

// ReserveFromEvent orders any one free ticket of the event at face value.
// admission is the waiting room's, for an event with a queue ("" without).
func (c *apiClient) ReserveFromEvent(r *http.Request, eventID, admission string) (order, error) {
	var o order
	body := map[string]string{"eventId": eventID}
	if admission != "" {
		body["admission"] = admission
	}
	_, err := c.call(r, http.MethodPost, "/api/orders", body, &o)
	return o, err
}

// ResaleCap is the most a holder may ask for one of the event's tickets
// on resale: floor(faceValue × resaleCapPercent / 100), as the API checks
// it (a percent not set is 100).
func (e event) ResaleCap() money.Cents {
	pct := int64(e.ResaleCapPercent)
	if pct <= 0 {
		pct = 100
	}
	return money.Cents(int64(e.FaceValue) * pct / 100)
}

// ListForResale offers the caller's held ticket for resale at price (the
// API's decimal notation), or changes the price of their listing.
func (c *apiClient) ListForResale(r *http.Request, id, price string) error {
	body := map[string]any{}
	if price != "" {
		body["price"] = price
	}
	_, err := c.call(r, http.MethodPost, "/api/tickets/"+url.PathEscape(id)+"/listing", body, nil)
	return err
}

// WithdrawResale takes the caller's resale listing off sale: they hold the
// ticket again.
func (c *apiClient) WithdrawResale(r *http.Request, id string) error {
	_, err := c.call(r, http.MethodDelete, "/api/tickets/"+url.PathEscape(id)+"/listing", nil, nil)
	return err
}

package shows

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Routes registers the event routes on mux, with their full paths.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/events", s.handleEventList)
	mux.HandleFunc("POST /api/events", httpapi.RequireUser(s.handleEventCreate))
	mux.HandleFunc("GET /api/events/mine", httpapi.RequireUser(s.handleEventMine))
	mux.HandleFunc("GET /api/events/{id}", s.handleEventGet)
	mux.HandleFunc("PUT /api/events/{id}", httpapi.RequireUser(s.handleEventUpdate))
	mux.HandleFunc("POST /api/events/{id}/cancel", httpapi.RequireUser(s.handleEventCancel))
	mux.HandleFunc("POST /api/events/{id}/staff", httpapi.RequireUser(s.handleStaffAdd))
	mux.HandleFunc("DELETE /api/events/{id}/staff/{email}", httpapi.RequireUser(s.handleStaffRemove))
	s.queueRoutes(mux)
}

// eventResponse is an event as the API shows it (DESIGN.md section 9.1),
// with ticketsLeft, and staff for the event's organizer only.
type eventResponse struct {
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
	Status           Status      `json:"status"`
	Version          int64       `json:"version"`
	TicketsLeft      int64       `json:"ticketsLeft"`
	TicketsIssued    int64       `json:"ticketsIssued"`
	Staff            []string    `json:"staff,omitzero"`
}

// toResponse shows e to viewerID ("" signed out): the staff only to the
// event's organizer.
func toResponse(e Event, viewerID string) eventResponse {
	out := eventResponse{ID: e.ID, OrganizerID: e.OrganizerID, Name: e.Name, Venue: e.Venue, TimeZone: e.TimeZone,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt, OnSaleAt: e.OnSaleAt, FaceValue: e.FaceValue, Capacity: e.Capacity,
		ResaleCapPercent: e.ResaleCapPercent, Transfers: e.Transfers, Queue: e.Queue, Status: e.Status,
		Version: e.Version, TicketsLeft: max(e.TicketsLeft, 0), TicketsIssued: e.TicketsIssued}
	if viewerID != "" && viewerID == e.OrganizerID {
		out.Staff = e.Staff
		if out.Staff == nil {
			out.Staff = []string{}
		}
	}
	return out
}

// eventRequest is the body of POST and PUT. Every field reads into a
// lenient type, so one unreadable field becomes a problem of that field,
// reported beside the others, rather than a bodiless "could not be read".
type eventRequest struct {
	Name             *string     `json:"name"`
	Venue            *string     `json:"venue"`
	TimeZone         *string     `json:"timeZone"`
	StartsAt         timeField   `json:"startsAt"`
	EndsAt           timeField   `json:"endsAt"`
	OnSaleAt         timeField   `json:"onSaleAt"`
	FaceValue        amountField `json:"faceValue"`
	Capacity         intField    `json:"capacity"`
	ResaleCapPercent intField    `json:"resaleCapPercent"`
	Transfers        *bool       `json:"transfers"`
	Queue            *bool       `json:"queue"`
}

// draft is the request as a Draft, with what could not be read as its
// problems.
func (in eventRequest) draft() Draft {
	d := Draft{Name: in.Name, Venue: in.Venue, TimeZone: in.TimeZone, Transfers: in.Transfers, Queue: in.Queue}
	for _, t := range []struct {
		field string
		in    timeField
		out   **time.Time
	}{{"startsAt", in.StartsAt, &d.StartsAt}, {"endsAt", in.EndsAt, &d.EndsAt}, {"onSaleAt", in.OnSaleAt, &d.OnSaleAt}} {
		switch {
		case t.in.bad:
			d.Problems.Add(t.field, t.field+" must be a time in RFC 3339, such as 2030-06-01T20:00:00Z")
		case t.in.set:
			v := t.in.at
			*t.out = &v
		}
	}
	switch {
	case in.FaceValue.bad:
		d.Problems.Add("faceValue", "faceValue must be an amount of dollars with at most two decimals")
	case in.FaceValue.set:
		v := in.FaceValue.cents
		d.FaceValue = &v
	}
	for _, n := range []struct {
		field, msg string
		in         intField
		out        **int
	}{
		{"capacity", "capacity must be a whole number from 1 to 100000", in.Capacity, &d.Capacity},
		{"resaleCapPercent", "resaleCapPercent must be a whole number from 100 to 150", in.ResaleCapPercent, &d.ResaleCapPercent},
	} {
		switch {
		case n.in.bad:
			d.Problems.Add(n.field, n.msg)
		case n.in.set:
			v := n.in.n
			*n.out = &v
		}
	}
	return d
}

// isNull reports whether b is JSON null, or the empty string of a form's
// untouched box: both mean the field is left out.
func isNull(b []byte) bool {
	if b = bytes.TrimSpace(b); bytes.Equal(b, []byte("null")) {
		return true
	}
	var s string
	return len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil && strings.TrimSpace(s) == ""
}

// timeField reads an RFC 3339 time.
type timeField struct {
	set, bad bool
	at       time.Time
}

func (t *timeField) UnmarshalJSON(b []byte) error {
	*t = timeField{}
	if isNull(b) {
		return nil
	}
	t.set = true
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.bad = true
		return nil
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil || at.Year() < 2000 || at.Year() > 9999 {
		t.bad = true
		return nil
	}
	t.at = at
	return nil
}

// amountField reads dollars as tickets' prices are read (money.Cents).
type amountField struct {
	set, bad bool
	cents    money.Cents
}

func (a *amountField) UnmarshalJSON(b []byte) error {
	*a = amountField{}
	if isNull(b) {
		return nil
	}
	a.set = true
	a.bad = a.cents.UnmarshalJSON(b) != nil
	return nil
}

// intField reads a whole number, given as a JSON number or a string of
// digits (a form's box).
type intField struct {
	set, bad bool
	n        int
}

func (f *intField) UnmarshalJSON(b []byte) error {
	*f = intField{}
	if isNull(b) {
		return nil
	}
	f.set = true
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(b, &s) != nil {
			f.bad = true
			return nil
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.Atoi(s)
	f.n, f.bad = n, err != nil
	return nil
}

// MaxPage is the most events one page of GET /api/events?limit= holds.
const MaxPage = 100

// handleEventList answers GET /api/events: the scheduled events that have
// not started, soonest first. ?q= keeps those whose name or venue hold
// every word of q, in any order, as a word or the start of one, ignoring
// case and accents. Without ?limit= the whole list comes back; with
// ?limit=N (1 to MaxPage) at most N, and when there are more a Link header
// (rel="next") gives the next page, which continues after the page's last
// event (?after=, see cursor).
func (s *Service) handleEventList(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	q, err := httpapi.ParseSearch(query)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	l := Listing{Search: q}
	if after := query.Get("after"); after != "" {
		ms, id, ok := strings.Cut(after, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || n < 0 || id == "" {
			httpapi.Error(w, r, ErrBadCursor)
			return
		}
		l.After, l.AfterStartsAt = id, time.UnixMilli(n)
	}
	limit, err := httpapi.ParseLimit(query, MaxPage)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	l.Limit = httpapi.Probe(limit)
	list, err := s.List(r.Context(), l)
	if err == nil {
		var more bool
		if list, more = httpapi.NextPage(list, limit); more {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "after": {cursor(list[len(list)-1])}}
			if q != "" {
				next.Set("q", q)
			}
			httpapi.LinkNext(w, "/api/events", next)
		}
	}
	s.respondList(w, r, list, err)
}

// cursor is the after= that continues the list past e:
// "<startsAt in unix ms>.<id>", as startsAt may be edited between two
// pages and the next page must start where this one ended.
func cursor(e Event) string {
	return strconv.FormatInt(e.StartsAt.UnixMilli(), 10) + "." + e.ID
}

// handleEventMine answers GET /api/events/mine: the caller's own events,
// whatever their status, soonest first (the organizer's "My events").
func (s *Service) handleEventMine(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context()) // RequireUser made sure
	list, err := s.Mine(r.Context(), user.ID)
	s.respondList(w, r, list, err)
}

func (s *Service) respondList(w http.ResponseWriter, r *http.Request, list []Event, err error) {
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	user, _ := httpapi.UserFrom(r.Context())
	out := make([]eventResponse, len(list))
	for i, e := range list {
		out[i] = toResponse(e, user.ID)
	}
	httpapi.Respond(w, http.StatusOK, out)
}

func (s *Service) respond(w http.ResponseWriter, r *http.Request, status int, e Event, err error) {
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	user, _ := httpapi.UserFrom(r.Context())
	httpapi.Respond(w, status, toResponse(e, user.ID))
}

func (s *Service) handleEventGet(w http.ResponseWriter, r *http.Request) {
	e, err := s.Get(r.Context(), r.PathValue("id"))
	s.respond(w, r, http.StatusOK, e, err)
}

// handleEventCreate answers POST /api/events: 201 with the event, 403
// not_organizer for a signed-in user who is not an organizer (checked
// before the body, which such a user has no business sending).
func (s *Service) handleEventCreate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if !user.Organizer {
		httpapi.Error(w, r, ErrNotOrganizer)
		return
	}
	var in eventRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	e, err := s.Create(r.Context(), user, in.draft())
	s.respond(w, r, http.StatusCreated, e, err)
}

// handleEventUpdate answers PUT /api/events/{id}: the fields the body
// gives replace the event's, those it leaves out stay.
func (s *Service) handleEventUpdate(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if !user.Organizer {
		httpapi.Error(w, r, ErrNotOrganizer)
		return
	}
	var in eventRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	e, err := s.Update(r.Context(), user, r.PathValue("id"), in.draft())
	s.respond(w, r, http.StatusOK, e, err)
}

// handleEventCancel answers POST /api/events/{id}/cancel (no body).
func (s *Service) handleEventCancel(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	e, err := s.Cancel(r.Context(), user, r.PathValue("id"))
	s.respond(w, r, http.StatusOK, e, err)
}

// staffRequest is the body of POST /api/events/{id}/staff.
type staffRequest struct {
	Email *string `json:"email"`
}

// handleStaffAdd answers POST /api/events/{id}/staff {email}: the event
// with its staff.
func (s *Service) handleStaffAdd(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if !user.Organizer {
		httpapi.Error(w, r, ErrNotOrganizer)
		return
	}
	var in staffRequest
	if err := httpapi.Decode(w, r, &in); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	email := ""
	if in.Email != nil {
		email = *in.Email
	}
	e, err := s.AddStaff(r.Context(), user, r.PathValue("id"), email)
	s.respond(w, r, http.StatusOK, e, err)
}

// handleStaffRemove answers DELETE /api/events/{id}/staff/{email}: the
// event with its staff.
func (s *Service) handleStaffRemove(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	e, err := s.RemoveStaff(r.Context(), user, r.PathValue("id"), r.PathValue("email"))
	s.respond(w, r, http.StatusOK, e, err)
}

package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// amsterdam is an event of these tests: 21 June 2030, 20:00 in Amsterdam
// (CEST, UTC+2), on sale from 1 May 2030, 10:00 there (before fixedNow).
func amsterdam() event {
	return event{ID: "e1", OrganizerID: "org", Name: `<script>alert("x")</script>`, Venue: "Paradiso, Amsterdam",
		TimeZone: "Europe/Amsterdam", StartsAt: time.Date(2030, 6, 21, 18, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2030, 6, 21, 22, 0, 0, 0, time.UTC), OnSaleAt: time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC),
		FaceValue: 4050, Capacity: 100, ResaleCapPercent: 100, Transfers: true, Status: eventScheduled, TicketsLeft: 58, TicketsIssued: 100}
}

func TestSale(t *testing.T) {
	t.Parallel()
	now := fixedNow()
	e := amsterdam()
	with := func(f func(*event)) event { e := amsterdam(); f(&e); return e }
	tests := []struct {
		name string
		e    event
		want saleState
	}{
		{"on sale", e, saleOpen},
		{"before the on-sale time", with(func(e *event) { e.OnSaleAt = now.Add(time.Minute) }), saleNotYet},
		{"sold out", with(func(e *event) { e.TicketsLeft = 0 }), saleSoldOut},
		{"tickets still being issued", with(func(e *event) { e.TicketsLeft, e.TicketsIssued = 0, 40 }), saleIssuing},
		{"some issued and on sale", with(func(e *event) { e.TicketsLeft, e.TicketsIssued = 40, 40 }), saleOpen},
		{"cancelled", with(func(e *event) { e.Status = eventCancelled }), saleCancelled},
		{"cancelled before its sale", with(func(e *event) { e.Status = eventCancelled; e.OnSaleAt = now.Add(time.Hour) }), saleCancelled},
		{"started", with(func(e *event) { e.StartsAt = now }), saleOver},
		{"ended", with(func(e *event) { e.Status = eventEnded }), saleOver},
	}
	for _, tt := range tests {
		if got := sale(tt.e, now); got != tt.want {
			t.Errorf("%s: sale = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestZoned(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 6, 21, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		zone, wantLocal, wantZone string
		named                     bool
	}{
		{"Europe/Amsterdam", "Fri 21 Jun 2030, 20:00 CEST", "Europe/Amsterdam", true},
		{"America/New_York", "Fri 21 Jun 2030, 14:00 EDT", "America/New_York", true},
		{"Asia/Kolkata", "Fri 21 Jun 2030, 23:30 IST", "Asia/Kolkata", true},
		{"UTC", "Fri 21 Jun 2030, 18:00 UTC", "UTC", false},
		// A zone this build cannot load is shown as UTC, and says so.
		{"Mars/Olympus_Mons", "Fri 21 Jun 2030, 18:00 UTC", "UTC", false},
		{"", "Fri 21 Jun 2030, 18:00 UTC", "UTC", false},
	}
	for _, tt := range tests {
		got := zoned(at, tt.zone)
		if got.Local != tt.wantLocal || got.Zone != tt.wantZone || got.Named != tt.named || !got.At.Equal(at) {
			t.Errorf("zoned(%s) = %+v, want %q in %s (named %v)", tt.zone, got, tt.wantLocal, tt.wantZone, tt.named)
		}
	}
	if got := localInput(at, "Europe/Amsterdam"); got != "2030-06-21T20:00" {
		t.Errorf("localInput = %q", got)
	}
}

// postForm is a parsed POST of the form values.
func postForm(values url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/events/new", strings.NewReader(values.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ParseForm()
	return r
}

// TestEventForm: the form's times are read in the event's zone and sent in
// UTC, the face value with the Sell form's rule; what cannot be read is a
// problem beside its field before the API is asked.
func TestEventForm(t *testing.T) {
	t.Parallel()
	full := url.Values{"name": {"Jazz"}, "venue": {"Paradiso"}, "timeZone": {"Europe/Amsterdam"},
		"startsAt": {"2030-06-21T20:00"}, "endsAt": {"2030-06-21 23:30"}, "onSaleAt": {"2030-05-01T10:00:00"},
		"faceValue": {"1.234,50"}, "capacity": {"250"}, "resaleCapPercent": {"120"}, "transfers": {"on"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range full {
			out[key] = vals
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	tests := []struct {
		name    string
		in      url.Values
		editing bool
		want    map[string]any // keys checked; nil value: left out
		errs    map[string]string
	}{
		{"every field", full, false, map[string]any{"name": "Jazz", "venue": "Paradiso", "timeZone": "Europe/Amsterdam",
			"startsAt": "2030-06-21T18:00:00Z", "endsAt": "2030-06-21T21:30:00Z", "onSaleAt": "2030-05-01T08:00:00Z",
			"faceValue": "1234.50", "capacity": "250", "resaleCapPercent": "120", "transfers": true}, nil},
		{"transfers unticked", with("transfers", ""), false, map[string]any{"transfers": false}, nil},
		{"no end, no on-sale time: the API's defaults", with("endsAt", ""), false, map[string]any{"endsAt": nil}, nil},
		{"New York", with("timeZone", "America/New_York"), false, map[string]any{"startsAt": "2030-06-22T00:00:00Z"}, nil},
		{"an unknown zone: times read as UTC, the API names the zone", with("timeZone", "Mars/Base"), false,
			map[string]any{"timeZone": "Mars/Base", "startsAt": "2030-06-21T20:00:00Z"}, nil},
		{"editing leaves the capacity out", full, true, map[string]any{"capacity": nil, "name": "Jazz"}, nil},
		{"a time that cannot be read", with("startsAt", "next friday"), false, nil, map[string]string{"startsAt": "Enter a date and a time"}},
		{"a price with an ambiguous comma", with("faceValue", "1,234"), false, nil, map[string]string{"faceValue": "Write 1234 or 1234.00"}},
		{"editing to an empty name", with("name", ""), true, nil, map[string]string{"name": "Name is required."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, f := eventForm(postForm(tt.in), tt.editing)
			// What goes to the API: the body as JSON.
			var body map[string]any
			if raw, err := json.Marshal(in); err != nil || json.Unmarshal(raw, &body) != nil {
				t.Fatalf("body %+v does not go as JSON: %v", in, err)
			}
			if tt.errs != nil {
				if f == nil {
					t.Fatalf("no problems, body %v", body)
				}
				for k, want := range tt.errs {
					if !strings.Contains(f.Err(k), want) {
						t.Errorf("problem of %s = %q, want %q", k, f.Err(k), want)
					}
				}
				if f.Value("name") != tt.in.Get("name") {
					t.Errorf("the form as typed is lost: %v", f.Values)
				}
				return
			}
			if f != nil {
				t.Fatalf("problems %v %v", f.Errors, f.General)
			}
			for k, want := range tt.want {
				got, ok := body[k]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want it left out", k, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestEventMessage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"onSaleAt must be before startsAt":          "The on-sale time must be before the start time",
		"endsAt must be after startsAt":             "The end time must be after the start time",
		"faceValue must be greater than 0":          "The face value must be greater than 0",
		"capacity must be a whole number from 1":    "The capacity must be a whole number from 1",
		"resaleCapPercent must be a whole number":   "The resale cap must be a whole number",
		"timeZone must be an IANA time zone":        "The time zone must be an IANA time zone",
		"Name is required":                          "Name is required",
		"The event was cancelled and can no longer": "The event was cancelled and can no longer",
	} {
		if got := eventMessage(in); got != want {
			t.Errorf("eventMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEventPagesRender renders the event pages in each state: the templates
// execute, user text is escaped, nothing inline, and each says what its
// state is.
func TestEventPagesRender(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	evil := `<script>alert("x")</script>`
	buyer := &user{ID: "u1", Email: "ann@example.com"}
	org := &user{ID: "org", Email: "org@example.com", Organizer: true}
	card := func(f func(*event)) eventCard {
		e := amsterdam()
		if f != nil {
			f(&e)
		}
		return eventCard{event: e, Sale: sale(e, fixedNow())}
	}
	open := card(nil)
	notYet := card(func(e *event) { e.OnSaleAt = time.Date(2030, 6, 1, 8, 0, 0, 0, time.UTC) })
	soldOut := card(func(e *event) { e.TicketsLeft = 0 })
	cancelledEv := card(func(e *event) { e.Status = eventCancelled })
	staffed := card(func(e *event) { e.Staff = []string{"door@example.com"} })
	tk := ticket{ID: "t1", Title: evil, Price: 2050}
	failed := newForm(url.Values{"name": {evil}, "startsAt": {"2030-06-21T20:00"}, "faceValue": {"abc"}, "email": {"nope"}})
	failed.Errors["faceValue"] = "The face value must be an amount."
	failed.Errors["onSaleAt"] = "The on-sale time must be before the start time."
	failed.Errors["email"] = "Email must be a valid email address."

	// The event's times: in its zone, named, and a line for the reader's.
	when := []string{`<time datetime="2030-06-21T18:00:00Z" data-fixed>Fri 21 Jun 2030, 20:00 CEST</time>`,
		`<span class="zone">(Europe/Amsterdam)</span>`, `data-event-zone="Europe/Amsterdam"`,
		`<span data-viewer-label>In UTC</span>: <time datetime="2030-06-21T18:00:00Z">21 Jun 2030, 18:00 UTC</time>`}
	tests := []struct {
		name   string
		page   string
		v      view
		wants  []string
		absent []string
	}{
		{"index with events above unverified listings", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk},
			Events: []eventCard{open, notYet}, MoreEvents: "/events?after=1.e1"}},
			[]string{"Upcoming events", `href="/events/e1"`, "Paradiso, Amsterdam", "From $40.50", "58 tickets left", "Fri 21 Jun 2030, 20:00 CEST",
				"On sale <time", "Sat 1 Jun 2030, 10:00 CEST", `href="/events?after=1.e1">More events`, "Resale listings", "Unverified", "$20.50", `href="/tickets/t1"`},
			nil},
		{"index, events down", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk}, EventsDown: true}},
			[]string{"Events cannot be shown right now", `href="/tickets/t1"`}, nil},
		{"index past the first page of listings", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk}, First: "/"}},
			[]string{"Resale listings"}, []string{"Upcoming events"}},
		{"events page", "events", view{Form: newForm(nil), Data: eventsData{Events: []eventCard{open, soldOut, cancelledEv}, More: "/events?after=2.e2", First: "/events"}},
			[]string{"Sold out", "Cancelled", `rel="next">More events`, `href="/events">Soonest events`}, nil},
		{"events page, no match", "events", view{Form: newForm(url.Values{"q": {evil}}), Data: eventsData{Q: evil}},
			[]string{"No upcoming events match"}, nil},
		{"event to buy", "event", view{User: buyer, CSRF: "tok", Data: eventData{Event: open, Fee: 455, Total: 4505}},
			append([]string{`action="/events/e1/buy"`, `name="csrf" value="tok"`, "Buy a ticket · $40.50", "58 of 100", "Paradiso, Amsterdam",
				"$40.50 plus a $4.55 service fee: $45.05 in all"}, when...),
			[]string{"Your event", "Sign in to buy"}},
		{"event signed out", "event", view{Data: eventData{Event: open}},
			[]string{"Sign in to buy", "next=/events/e1"}, []string{`action="/events/e1/buy"`}},
		{"event before its sale", "event", view{User: buyer, Data: eventData{Event: notYet}},
			[]string{"Sales open", `<time datetime="2030-06-01T08:00:00Z" data-fixed>Sat 1 Jun 2030, 10:00 CEST</time>`}, []string{`action="/events/e1/buy"`}},
		{"event sold out", "event", view{User: buyer, Data: eventData{Event: soldOut}},
			[]string{"Sold out."}, []string{`action="/events/e1/buy"`}},
		{"event cancelled", "event", view{User: buyer, Data: eventData{Event: cancelledEv}},
			[]string{"This event was cancelled"}, []string{`action="/events/e1/buy"`}},
		{"event with a refused purchase", "event", view{User: buyer, Form: &form{General: []string{"Sold out: every ticket is taken."}}, Data: eventData{Event: open}},
			[]string{`id="form-errors"`, "Sold out: every ticket is taken."}, nil},
		{"own event", "event", view{User: org, CSRF: "tok", Form: failed, Data: eventData{Event: staffed, Mine: true}},
			[]string{"Your event", "Sold so far: <strong>42</strong> of 100", `href="/events/e1/edit"`, `href="/events/e1/checkin"`,
				`href="/events/e1/cancel"`, "door@example.com", `action="/events/e1/staff/remove"`, `name="email" value="door@example.com"`,
				`action="/events/e1/staff"`, "Email must be a valid email address.", `aria-describedby="email-error"`, "My Events"},
			nil},
		{"own event on sale", "event", view{User: org, CSRF: "tok", Data: eventData{Event: open, Mine: true}},
			[]string{"Your event is on sale"}, []string{`action="/events/e1/buy"`}},
		{"own event cancelled", "event", view{User: org, Data: eventData{Event: cancelledEv, Mine: true}},
			[]string{"Sold so far"}, []string{`href="/events/e1/edit"`, `action="/events/e1/staff"`}},
		{"my events", "my_events", view{User: org, Data: myEventsData{Events: []eventCard{open, cancelledEv}}},
			[]string{`href="/events/new"`, "Sold so far: <strong>42</strong> of 100", `href="/events/e1/checkin"`, `aria-label="Edit `, "Cancelled"}, nil},
		{"my events, none", "my_events", view{User: org, Data: myEventsData{}}, []string{"You have no events yet"}, nil},
		{"create with problems", "event_form", view{User: org, CSRF: "tok", Form: failed, Data: eventFormData{Zones: commonZones}},
			[]string{`action="/events/new"`, `value="2030-06-21T20:00"`, `value="abc"`, "The face value must be an amount.",
				"The on-sale time must be before the start time.", `aria-describedby="onSaleAt-hint onSaleAt-error"`, "data-fill-zone",
				`<option value="Europe/Amsterdam">`, `<label for="capacity">`},
			[]string{"readonly"}},
		{"edit", "event_form", view{User: org, Form: newForm(url.Values{"capacity": {"100"}, "transfers": {"on"}}), Data: eventFormData{Event: &open.event}},
			[]string{`action="/events/e1/edit"`, "readonly", "Fixed: the tickets are on sale", `value="on" checked`}, []string{"data-fill-zone"}},
		{"edit before the on-sale", "event_form", view{User: org, Form: newForm(url.Values{"capacity": {"100"}}), Data: eventFormData{Event: &open.event, PriceOpen: true}},
			[]string{`id="faceValue" name="faceValue" value="" inputmode="decimal" autocomplete="off" required`, "Can change until the tickets go on sale",
				`id="capacity" name="capacity" value="100" inputmode="numeric" autocomplete="off" readonly`}, nil},
		{"edit a cancelled event", "event_form", view{User: org, Form: &form{General: []string{"This event can no longer be changed."}}, Data: eventFormData{Event: &cancelledEv.event}},
			[]string{"can no longer be changed", `href="/events/e1"`}, []string{`action="/events/e1/edit"`}},
		{"cancel, confirm", "event_cancel", view{User: org, CSRF: "tok", Data: eventData{Event: open, Mine: true}},
			[]string{`action="/events/e1/cancel"`, "Yes, cancel this event", "No, keep it", "void", "42 of 100"}, nil},
		{"cancel, already cancelled", "event_cancel", view{User: org, Data: eventData{Event: cancelledEv, Mine: true}},
			[]string{"already cancelled"}, []string{`action="/events/e1/cancel"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Title = evil
			if v.Form == nil {
				v.Form = newForm(nil)
			}
			rec := httptest.NewRecorder()
			s.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, tt.page, &v)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			for _, want := range tt.wants {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, no := range tt.absent {
				if strings.Contains(body, no) {
					t.Errorf("page has %q", no)
				}
			}
			if strings.Contains(body, evil) {
				t.Errorf("user text not escaped")
			}
			if m := findInline(body); m != "" {
				t.Errorf("page holds inline code a strict CSP blocks: %q", m)
			}
			if strings.Contains(body, "<table") {
				t.Errorf("an event page lays out with a table")
			}
		})
	}
}

// fakeAPI answers the web client's calls as the API would, and records
// what it was sent.
type fakeAPI struct {
	mu   sync.Mutex
	me   *user
	ev   event
	seen []string // "METHOD path[?query] body"
	// answers by "METHOD path": a status and a JSON body.
	answers map[string]struct {
		status int
		body   string
	}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.EscapedPath()
	asked := key
	if r.URL.RawQuery != "" {
		asked += "?" + r.URL.RawQuery
	}
	f.seen = append(f.seen, asked+" "+string(raw))
	w.Header().Set("Content-Type", "application/json")
	if a, ok := f.answers[key]; ok {
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
		return
	}
	switch {
	case key == "GET /api/users/currentuser":
		json.NewEncoder(w).Encode(map[string]any{"currentUser": f.me})
	case key == "GET /api/events/"+f.ev.ID:
		json.NewEncoder(w).Encode(f.ev)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"message":"Not found"}]}`)
	}
}

func (f *fakeAPI) sent(prefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.seen {
		if strings.HasPrefix(s, prefix) {
			return s
		}
	}
	return ""
}

// webClient is a browser without JavaScript on the web client in front of
// api: cookies kept, redirects not followed.
type webClient struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
	last    string
}

func newFakeWeb(t *testing.T, api *fakeAPI) *webClient {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{APIBase: srv.URL, Now: fixedNow})
	mux := http.NewServeMux()
	s.Routes(mux)
	return &webClient{t: t, h: mux, cookies: map[string]*http.Cookie{}}
}

func (c *webClient) do(req *http.Request) *httptest.ResponseRecorder {
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		c.last = rec.Body.String()
	}
	return rec
}

func (c *webClient) get(path string) *httptest.ResponseRecorder {
	return c.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends the form with the CSRF token of the last page.
func (c *webClient) post(path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(c.last)
	if m == nil {
		c.t.Fatalf("POST %s: the last page has no CSRF token", path)
	}
	form.Set("csrf", m[1])
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

func wantRedirect(t *testing.T, what string, rec *httptest.ResponseRecorder, to string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != to {
		t.Fatalf("%s = %d to %q, want 303 to %s:\n%s", what, rec.Code, rec.Header().Get("Location"), to, rec.Body)
	}
}

// TestEventFormsThroughTheAPI: the organizer's forms send the API what it
// takes and answer with post/redirect/get; its problems come back beside
// the fields; Buy posts {eventId} and tells each refusal in words.
func TestEventFormsThroughTheAPI(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{me: &user{ID: "org", Email: "org@example.com", Organizer: true}, ev: amsterdam()}
	c := newFakeWeb(t, api)

	if rec := c.get("/events/new"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="/events/new"`) {
		t.Fatalf("the create form = %d", rec.Code)
	}
	form := url.Values{"name": {"Jazz"}, "venue": {"Paradiso"}, "timeZone": {"Europe/Amsterdam"}, "startsAt": {"2030-06-21T20:00"},
		"onSaleAt": {"2030-06-21T21:00"}, "faceValue": {"40,50"}, "capacity": {"100"}, "resaleCapPercent": {"100"}, "transfers": {"on"}}
	api.answers = map[string]struct {
		status int
		body   string
	}{"POST /api/events": {400, `{"errors":[{"field":"onSaleAt","message":"onSaleAt must be before startsAt","code":"invalid"}]}`}}
	wantRedirect(t, "a refused create", c.post("/events/new", form), "/events/new")
	sent := api.sent("POST /api/events ")
	for _, want := range []string{`"startsAt":"2030-06-21T18:00:00Z"`, `"onSaleAt":"2030-06-21T19:00:00Z"`, `"faceValue":"40.50"`, `"capacity":"100"`, `"transfers":true`} {
		if !strings.Contains(sent, want) {
			t.Errorf("the API was sent %s, without %s", sent, want)
		}
	}
	page := c.get("/events/new").Body.String()
	for _, want := range []string{`<p class="field-error" id="onSaleAt-error">The on-sale time must be before the start time.</p>`, `value="Jazz"`, `value="40,50"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the form shown again lacks %q", want)
		}
	}

	api.answers["POST /api/events"] = struct {
		status int
		body   string
	}{201, `{"id":"e1"}`}
	wantRedirect(t, "create", c.post("/events/new", form), "/events/e1")
	if page := c.get("/events/e1").Body.String(); !strings.Contains(page, "Your event is created") || !strings.Contains(page, "Your event") {
		t.Errorf("the new event's page does not confirm it:\n%s", page)
	}

	// Edit: the capacity is not sent.
	c.get("/events/e1/edit")
	api.answers["PUT /api/events/e1"] = struct {
		status int
		body   string
	}{200, `{"id":"e1"}`}
	wantRedirect(t, "edit", c.post("/events/e1/edit", form), "/events/e1")
	if sent := api.sent("PUT /api/events/e1"); strings.Contains(sent, "capacity") || !strings.Contains(sent, `"name":"Jazz"`) {
		t.Errorf("the edit sent %s", sent)
	}
	// Times left as the form showed them are not sent back (cut to the
	// minute, they would move); a changed one is.
	api.mu.Lock()
	api.seen = nil
	api.ev.OnSaleAt = api.ev.OnSaleAt.Add(17 * time.Second)
	api.mu.Unlock()
	c.get("/events/e1/edit")
	edited := url.Values{}
	for k, v := range form {
		edited[k] = v
	}
	edited.Set("startsAt", "2030-06-21T20:00")
	edited.Set("endsAt", "2030-06-21T23:00")
	edited.Set("onSaleAt", "2030-05-01T10:00") // as shown: 10:00:17 to the minute
	wantRedirect(t, "edit the end", c.post("/events/e1/edit", edited), "/events/e1")
	if sent := api.sent("PUT /api/events/e1"); strings.Contains(sent, "startsAt") || strings.Contains(sent, "onSaleAt") ||
		!strings.Contains(sent, `"endsAt":"2030-06-21T21:00:00Z"`) {
		t.Errorf("the edit of the end sent %s", sent)
	}

	// Staff: a bad email is shown beside the field; removing names the
	// email in the path.
	c.get("/events/e1")
	api.answers["POST /api/events/e1/staff"] = struct {
		status int
		body   string
	}{400, `{"errors":[{"field":"email","message":"email must be a valid email address","code":"invalid"}]}`}
	wantRedirect(t, "add staff", c.post("/events/e1/staff", url.Values{"email": {"nope"}}), "/events/e1")
	if page := c.get("/events/e1").Body.String(); !strings.Contains(page, `id="email-error">Email must be a valid email address.`) || !strings.Contains(page, `value="nope"`) {
		t.Errorf("the staff problem is not beside the field")
	}
	api.answers["DELETE /api/events/e1/staff/door@example.com"] = struct {
		status int
		body   string
	}{200, `{"id":"e1"}`}
	wantRedirect(t, "remove staff", c.post("/events/e1/staff/remove", url.Values{"email": {"door@example.com"}}), "/events/e1")

	// Cancel: a page that asks first, then the API.
	if page := c.get("/events/e1/cancel").Body.String(); !strings.Contains(page, "Yes, cancel this event") {
		t.Fatal("no confirmation step")
	}
	api.answers["POST /api/events/e1/cancel"] = struct {
		status int
		body   string
	}{200, `{"id":"e1"}`}
	wantRedirect(t, "cancel", c.post("/events/e1/cancel", url.Values{}), "/events/e1")
	if page := c.get("/events/e1").Body.String(); !strings.Contains(page, "The event is cancelled") {
		t.Error("the cancel is not confirmed")
	}

	// Buy: {eventId} to the orders API, to the order page; each refusal
	// in words on the event page.
	api.answers["POST /api/orders"] = struct {
		status int
		body   string
	}{201, `{"id":"o1"}`}
	wantRedirect(t, "buy", c.post("/events/e1/buy", url.Values{}), "/orders/o1")
	if sent := api.sent("POST /api/orders"); !strings.Contains(sent, `{"eventId":"e1"}`) {
		t.Errorf("buy sent %s", sent)
	}
	for code, want := range map[string]string{
		"sold_out":        "Sold out: every ticket is taken.",
		"not_on_sale_yet": "not on sale yet",
		"event_cancelled": "This event was cancelled",
		"event_ended":     "This event has ended",
	} {
		c.get("/events/e1")
		api.answers["POST /api/orders"] = struct {
			status int
			body   string
		}{409, `{"errors":[{"message":"x","code":"` + code + `"}]}`}
		wantRedirect(t, "buy "+code, c.post("/events/e1/buy", url.Values{}), "/events/e1")
		if page := c.get("/events/e1").Body.String(); !strings.Contains(page, want) {
			t.Errorf("after %s the event page does not say %q", code, want)
		}
	}
}

// TestOrganizerPagesNeedAnOrganizer: a signed-in person who is not an
// organizer is told so; a signed-out one is sent to sign in; the header
// offers My Events to organizers only.
func TestOrganizerPagesNeedAnOrganizer(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{me: &user{ID: "u1", Email: "ann@example.com"}, ev: amsterdam()}
	c := newFakeWeb(t, api)
	for _, path := range []string{"/events/mine", "/events/new", "/events/e1/edit", "/events/e1/cancel"} {
		rec := c.get(path)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "For organizers only") {
			t.Errorf("GET %s by a buyer = %d", path, rec.Code)
		}
	}
	if page := c.get("/events/e1").Body.String(); strings.Contains(page, "My Events") || strings.Contains(page, "Your event") {
		t.Error("a buyer is offered the organizer's pages")
	}
	// Another organizer's event.
	api.me.Organizer = true
	if rec := c.get("/events/e1/edit"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Not your event") {
		t.Errorf("editing another organizer's event = %d", rec.Code)
	}
	api.me = nil
	if rec := c.get("/events/new"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/auth/signin") {
		t.Errorf("signed out = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

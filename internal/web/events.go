package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/platform/money"

	// An event's zone is shown and read here: a container image may have
	// no zoneinfo.
	_ "time/tzdata"
)

// The event pages (DESIGN.md section 9.1): upcoming events, an event and
// its Buy, and for organizers their events, the create and edit forms,
// cancelling, and door staff.

// eventsPage is how many events the events page shows at once; the index
// shows the first indexEvents.
const (
	eventsPage  = 24
	indexEvents = 6
)

// eventCursor is the API's after= that continues the list past e:
// "<startsAt in unix ms>.<id>", as GET /api/events documents.
func eventCursor(e event) string {
	return strconv.FormatInt(e.StartsAt.UnixMilli(), 10) + "." + e.ID
}

// eventsURL is the events page with query v.
func eventsURL(v url.Values) string {
	if len(v) == 0 {
		return "/events"
	}
	return "/events?" + v.Encode()
}

// eventCard is an event as a list shows it, with what it says about its
// sale at the page's moment.
type eventCard struct {
	event
	Sale saleState
}

// saleState is where an event's sale stands for a buyer.
type saleState string

const (
	saleOpen    saleState = "open"
	saleNotYet  saleState = "not_yet"
	saleSoldOut saleState = "sold_out"
	// saleIssuing: none on sale yet because the tickets are still being
	// issued, a moment after the event was created.
	saleIssuing   saleState = "issuing"
	saleCancelled saleState = "cancelled"
	// saleOver: the event has started or ended; its tickets are no longer
	// sold.
	saleOver saleState = "over"
)

// sale is where e's sale stands at now. The API decides when a ticket is
// bought; this only chooses what the page offers.
func sale(e event, now time.Time) saleState {
	switch {
	case e.Status == eventCancelled:
		return saleCancelled
	case e.Status == eventEnded || !now.Before(e.StartsAt):
		return saleOver
	case now.Before(e.OnSaleAt):
		return saleNotYet
	case e.TicketsLeft <= 0 && e.Issuing():
		return saleIssuing
	case e.TicketsLeft <= 0:
		return saleSoldOut
	}
	return saleOpen
}

func (s *Service) cards(list []event) []eventCard {
	now := s.cfg.Now()
	out := make([]eventCard, len(list))
	for i, e := range list {
		out[i] = eventCard{event: e, Sale: sale(e, now)}
	}
	return out
}

// upcoming is one page of the upcoming events: up to n after the cursor
// after, matching q, and the URL of the next page on the events page (""
// when there is none).
func (s *Service) upcoming(r *http.Request, q, after string, n int) ([]eventCard, string, error) {
	// One event more than the page says whether there is a next page.
	list, err := s.api.Events(r, eventQuery{Q: q, After: after, Limit: n + 1})
	if err != nil {
		return nil, "", err
	}
	more := ""
	if len(list) > n {
		list = list[:n]
		v := url.Values{"after": {eventCursor(list[n-1])}}
		if q != "" {
			v.Set("q", q)
		}
		more = eventsURL(v)
	}
	return s.cards(list), more, nil
}

type eventsData struct {
	Q      string
	Events []eventCard
	// More is the URL of the next page, First that of the first one; each
	// is empty when there is no such page to go to.
	More, First string
}

// handleEventList is the events page: every upcoming event, soonest first,
// a page at a time (the index shows the first few).
func (s *Service) handleEventList(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Upcoming events", "events")
	if !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	after := r.URL.Query().Get("after")
	v.Form = newForm(url.Values{"q": {q}})
	list, more, err := s.upcoming(r, q, after, eventsPage)
	if err != nil {
		if statusOf(err) != http.StatusBadRequest {
			s.fail(w, r, err)
			return
		}
		v.Form.addAPIError(err, "q")
	}
	d := eventsData{Q: q, Events: list, More: more}
	if after != "" {
		first := url.Values{}
		if q != "" {
			first.Set("q", q)
		}
		d.First = eventsURL(first)
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "events", v)
}

type eventData struct {
	Event eventCard
	// Mine: the caller organizes the event, and manages it here.
	Mine bool
	// Resales are the event's resale listings on sale, cheapest first
	// (GET /api/tickets?eventId=), at most eventResales of them;
	// MoreResales says there are more.
	Resales     []ticket
	MoreResales bool
	// Fee is the service fee a ticket at face value adds, Total what the
	// buyer would pay: shown beside Buy.
	Fee, Total money.Cents
	// Room is the event's waiting room as its organizer sees it, while
	// it is open; nil otherwise. RoomRate is how many it has let in a
	// minute since the on-sale, 0 before it.
	Room     *queueStatus
	RoomRate int
}

// eventResales is how many resale listings an event's page shows.
const eventResales = 20

// handleEventShow is an event's page: when and where in the event's zone
// and the reader's, its price and tickets left, Buy; for its organizer,
// what they can do with it.
func (s *Service) handleEventShow(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Event", "")
	if !ok {
		return
	}
	e, err := s.api.Event(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = e.Name
	mine := v.User != nil && v.User.ID == e.OrganizerID
	if mine {
		v.Nav = "events"
	}
	if !mine && roomOpen(e, s.cfg.Now()) {
		// The sale goes through the waiting room while it is open.
		seeOther(w, r, "/events/"+url.PathEscape(e.ID)+"/queue")
		return
	}
	fee := s.cfg.Fee.Fee(e.FaceValue)
	d := eventData{Event: eventCard{event: e, Sale: sale(e, s.cfg.Now())}, Mine: mine, Fee: fee, Total: e.FaceValue + fee}
	if mine && roomOpen(e, s.cfg.Now()) {
		// The organizer's view of the room: how many wait, how many are
		// let in. Without it the page still shows the event.
		if q, err := s.api.Queue(r, e.ID); err == nil {
			d.Room = &q
			d.RoomRate = admissionRate(q.Admitted, e.OnSaleAt, s.cfg.Now())
			v.Live = organizerRoomRefresh
		}
	}
	if e.Status == eventScheduled {
		// One more than shown says whether there are more. The page
		// stands without them: the event is what was asked for.
		list, err := s.api.Tickets(r, ticketQuery{EventID: e.ID, Sort: "price_asc", Limit: eventResales + 1})
		if err != nil {
			s.log.Warn("web event resales", "event_id", e.ID, "err", err)
		}
		if len(list) > eventResales {
			list, d.MoreResales = list[:eventResales], true
		}
		d.Resales = list
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "event", v)
}

// handleEventBuy reserves any one ticket of the event at face value (POST
// /api/orders {eventId}) and shows the order, as the Purchase of a listing
// does.
func (s *Service) handleEventBuy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/events/" + url.PathEscape(id)
	var o order
	// Orders learns of an event's tickets from events: for a moment after
	// the event is created it may not know them yet.
	err := s.untilKnown(r,
		func() (err error) {
			o, err = s.api.ReserveFromEvent(r, id, r.PostFormValue("admission"))
			return err
		},
		func() bool {
			_, err := s.api.Event(r, id)
			return err == nil
		})
	switch st, code := statusOf(err), errorCode(err); {
	case err == nil:
		seeOther(w, r, "/orders/"+url.PathEscape(o.ID))
	case st == http.StatusUnauthorized:
		seeOther(w, r, "/auth/signin?next="+url.QueryEscape(page))
	case code == "queue_required":
		seeOther(w, r, page+"/queue")
	case code == "not_on_sale_yet", code == "sold_out", code == "event_cancelled", code == "event_ended",
		st == http.StatusConflict, st == http.StatusBadRequest, st == http.StatusTooManyRequests, st == http.StatusNotFound:
		f := newForm(nil)
		switch at := retryAt(err, s.cfg.Now()); {
		case code == "not_on_sale_yet":
			f.General = append(f.General, "Tickets for this event are not on sale yet. The page says when sales open.")
		case code == "sold_out":
			f.General = append(f.General, "Sold out: every ticket is taken. Tickets that are not paid for in time come back on sale.")
		case code == "event_cancelled":
			f.General = append(f.General, "This event was cancelled, so its tickets are no longer sold.")
		case code == "event_ended":
			f.General = append(f.General, "This event has ended, so its tickets are no longer sold.")
		case st == http.StatusNotFound:
			f.General = append(f.General, "This event's tickets are not ready to buy yet. Please try again in a few seconds.")
		case st == http.StatusTooManyRequests && !at.IsZero():
			var ae *apiError
			msg := "You cannot buy a ticket right now."
			if errors.As(err, &ae) && len(ae.Errors) > 0 && ae.Errors[0].Message != "" {
				msg = sentence(ae.Errors[0].Message)
			}
			f.General = append(f.General, msg+" You can try again after "+humanTime(at)+".")
		default:
			f.addAPIError(err)
		}
		s.redirect(w, r, page, "", f)
	default:
		s.fail(w, r, err)
	}
}

// beginOrganizer is begin for the organizer's pages: a signed-out person
// is sent to sign in, anyone else an operator has not made an organizer
// is told so.
func (s *Service) beginOrganizer(w http.ResponseWriter, r *http.Request, title string) (*view, bool) {
	v, ok := s.beginSignedIn(w, r, title, "events")
	if ok && !v.User.Organizer {
		s.notOrganizer(w, r)
		return nil, false
	}
	return v, ok
}

func (s *Service) notOrganizer(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusForbidden, "For organizers only",
		"Only organizers can create and manage events. An operator can make your account an organizer; sign in again after they have.")
}

type myEventsData struct{ Events []eventCard }

// handleMyEvents is the organizer's events, whatever their status, with
// sales so far.
func (s *Service) handleMyEvents(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginOrganizer(w, r, "My events")
	if !ok {
		return
	}
	list, err := s.api.MyEvents(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Data = myEventsData{Events: s.cards(list)}
	s.render(w, r, http.StatusOK, "my_events", v)
}

// eventFields are the fields of the event form, in the order of the API's
// problems.
var eventFields = []string{"name", "venue", "timeZone", "startsAt", "endsAt", "onSaleAt", "faceValue", "capacity", "resaleCapPercent", "transfers", "queue"}

type eventFormData struct {
	Event *event // nil when creating one
	Zones []string
	// PriceOpen: the event's face value and on-sale time may still change
	// (every ticket issued, the sale not open yet: the API's rule, which
	// decides; this only chooses whether the fields are offered).
	PriceOpen bool
}

// commonZones are offered as suggestions in the time zone field; any IANA
// zone may be typed.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Amsterdam", "Europe/Brussels",
	"Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Vienna", "Europe/Zurich", "Europe/Stockholm",
	"Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki", "Europe/Warsaw", "Europe/Prague", "Europe/Athens",
	"Europe/Istanbul", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Vancouver",
	"America/Mexico_City", "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "Africa/Lagos",
	"Africa/Johannesburg", "Africa/Cairo", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai",
	"Asia/Hong_Kong", "Asia/Tokyo", "Asia/Seoul", "Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
}

func (s *Service) handleEventNewForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginOrganizer(w, r, "Create an event")
	if !ok {
		return
	}
	if v.Form == nil {
		// The usual choices, so a new event needs only what is its own.
		v.Form = newForm(url.Values{"resaleCapPercent": {"100"}, "transfers": {"on"}})
	}
	v.Data = eventFormData{Zones: commonZones}
	s.render(w, r, http.StatusOK, "event_form", v)
}

// eventForm is the API body the posted event form describes, or the
// problems found before asking the API: a time or a price it cannot read.
// Times are typed in the event's zone, as the organizer's audience reads
// them; the API takes them in UTC. A zone that does not load is the API's
// to refuse (it names the field); meanwhile the times are read as UTC.
// An empty field is left out: the API then applies its default (end,
// on-sale time) or says it is required. When editing, capacity is not
// sent: it is fixed once the tickets are issued.
func eventForm(r *http.Request, editing bool) (eventInput, *form) {
	get := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	f := newForm(typed(r, eventFields...))
	if editing {
		// Left empty, the API would keep the old text (an empty field is a
		// field left out): say it is required, as creating does.
		for k, label := range map[string]string{"name": "Name", "venue": "Venue"} {
			if get(k) == "" {
				f.Errors[k] = label + " is required."
			}
		}
	}
	zone := get("timeZone")
	body := eventInput{Name: r.PostForm.Get("name"), Venue: r.PostForm.Get("venue"), TimeZone: zone,
		Transfers: r.PostForm.Get("transfers") != "", Queue: r.PostForm.Get("queue") != ""}
	loc := time.UTC
	if l, err := time.LoadLocation(zone); err == nil && zone != "" && zone != "Local" {
		loc = l
	}
	for _, t := range []struct {
		field string
		out   *string
	}{{"startsAt", &body.StartsAt}, {"endsAt", &body.EndsAt}, {"onSaleAt", &body.OnSaleAt}} {
		in := get(t.field)
		if in == "" {
			continue
		}
		at, ok := parseLocal(in, loc)
		if !ok {
			f.Errors[t.field] = "Enter a date and a time, e.g. 2030-06-21 20:00."
			continue
		}
		*t.out = at.UTC().Format(time.RFC3339)
	}
	if p, problem := priceInput(get("faceValue")); problem != "" {
		f.Errors["faceValue"] = problem
	} else {
		body.FaceValue = p
	}
	if !editing {
		body.Capacity = get("capacity")
	}
	body.ResaleCapPercent = get("resaleCapPercent")
	if !f.HasErrors() {
		f = nil
	}
	return body, f
}

// eventLabels are the API's field names as a person reads them in a
// sentence (eventMessage).
var eventLabels = strings.NewReplacer(
	"startsAt", "the start time", "endsAt", "the end time", "onSaleAt", "the on-sale time",
	"faceValue", "the face value", "resaleCapPercent", "the resale cap", "timeZone", "the time zone",
	"capacity", "the capacity",
)

// eventMessage rewords an API message about the event's fields ("onSaleAt
// must be before startsAt") in the form's words ("The on-sale time must be
// before the start time.").
func eventMessage(msg string) string {
	msg = eventLabels.Replace(msg)
	if r, n := utf8.DecodeRuneInString(msg); n > 0 {
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	return msg
}

// eventProblems places the API's problems with an event beside the form's
// fields, in the form's words.
func eventProblems(f *form, err error) {
	f.addAPIError(err, eventFields...)
	for k, msg := range f.Errors {
		f.Errors[k] = eventMessage(msg)
	}
	for i, msg := range f.General {
		f.General[i] = eventMessage(msg)
	}
}

func (s *Service) handleEventCreate(w http.ResponseWriter, r *http.Request) {
	body, f := eventForm(r, false)
	if f != nil {
		s.redirect(w, r, "/events/new", "", f)
		return
	}
	e, err := s.api.CreateEvent(r, body)
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, "/events/"+url.PathEscape(e.ID), "event_created", nil)
	case st == http.StatusBadRequest:
		f := newForm(typed(r, eventFields...))
		eventProblems(f, err)
		s.redirect(w, r, "/events/new", "", f)
	case st == http.StatusForbidden:
		s.notOrganizer(w, r)
	default:
		s.fail(w, r, err)
	}
}

// ownEvent reads the event for its organizer's pages: on failure, or when
// it is someone else's, it has already answered.
func (s *Service) ownEvent(w http.ResponseWriter, r *http.Request, v *view) (event, bool) {
	e, err := s.api.Event(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return event{}, false
	}
	if e.OrganizerID != v.User.ID {
		s.renderError(w, r, http.StatusForbidden, "Not your event", "Only the event's organizer can change it.")
		return event{}, false
	}
	return e, true
}

func (s *Service) handleEventEditForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginOrganizer(w, r, "Edit event")
	if !ok {
		return
	}
	e, ok := s.ownEvent(w, r, v)
	if !ok {
		return
	}
	if v.Form == nil {
		transfers, queue := "", ""
		if e.Transfers {
			transfers = "on"
		}
		if e.Queue {
			queue = "on"
		}
		v.Form = newForm(url.Values{
			"name": {e.Name}, "venue": {e.Venue}, "timeZone": {e.TimeZone},
			"startsAt": {localInput(e.StartsAt, e.TimeZone)}, "endsAt": {localInput(e.EndsAt, e.TimeZone)},
			"onSaleAt": {localInput(e.OnSaleAt, e.TimeZone)}, "faceValue": {e.FaceValue.String()},
			"capacity": {strconv.Itoa(e.Capacity)}, "resaleCapPercent": {strconv.Itoa(e.ResaleCapPercent)},
			"transfers": {transfers}, "queue": {queue},
		})
	}
	if e.Status != eventScheduled && len(v.Form.General) == 0 {
		v.Form.General = append(v.Form.General, "This event can no longer be changed.")
	}
	v.Data = eventFormData{Event: &e, Zones: commonZones, PriceOpen: !e.Issuing() && s.cfg.Now().Before(e.OnSaleAt)}
	s.render(w, r, http.StatusOK, "event_form", v)
}

func (s *Service) handleEventUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	edit := "/events/" + url.PathEscape(id) + "/edit"
	body, f := eventForm(r, true)
	if f != nil {
		s.redirect(w, r, edit, "", f)
		return
	}
	e, err := s.api.Event(r, id)
	if err == nil {
		unchangedTimes(&body, r.PostForm, e)
		_, err = s.api.UpdateEvent(r, id, body)
	}
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, "/events/"+url.PathEscape(id), "event_updated", nil)
	case st == http.StatusBadRequest:
		f := newForm(typed(r, eventFields...))
		eventProblems(f, err)
		s.redirect(w, r, edit, "", f)
	case st == http.StatusForbidden:
		// Not an organizer, or not this event's: the edit page tells which.
		seeOther(w, r, edit)
	default:
		s.fail(w, r, err)
	}
}

// unchangedTimes leaves out of an edit's body the times the organizer did
// not change: the form shows them to the minute, and sending them back
// would move a time set to the second (an on-sale time of "at once") by
// the seconds cut off. With the zone changed, the times as typed are
// meant in the new zone, so they are all sent.
func unchangedTimes(body *eventInput, posted url.Values, e event) {
	if strings.TrimSpace(posted.Get("timeZone")) != e.TimeZone {
		return
	}
	for _, t := range []struct {
		field string
		at    time.Time
		sent  *string
	}{{"startsAt", e.StartsAt, &body.StartsAt}, {"endsAt", e.EndsAt, &body.EndsAt}, {"onSaleAt", e.OnSaleAt, &body.OnSaleAt}} {
		if strings.TrimSpace(posted.Get(t.field)) == localInput(t.at, e.TimeZone) {
			*t.sent = ""
		}
	}
}

// handleEventCancelForm is the confirmation step before cancelling: what
// cancelling does, and the button that does it.
func (s *Service) handleEventCancelForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginOrganizer(w, r, "Cancel event")
	if !ok {
		return
	}
	e, ok := s.ownEvent(w, r, v)
	if !ok {
		return
	}
	v.Data = eventData{Event: eventCard{event: e, Sale: sale(e, s.cfg.Now())}, Mine: true}
	s.render(w, r, http.StatusOK, "event_cancel", v)
}

func (s *Service) handleEventCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/events/" + url.PathEscape(id)
	err := s.api.CancelEvent(r, id)
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, page, "event_cancelled", nil)
	case st == http.StatusBadRequest:
		// Started meanwhile: the event page says so.
		f := newForm(nil)
		f.addAPIError(err)
		s.redirect(w, r, page, "", f)
	case st == http.StatusForbidden:
		seeOther(w, r, page+"/cancel") // it tells whose event it is
	default:
		s.fail(w, r, err)
	}
}

// handleStaffAdd adds door staff by email (the form on the event page of
// its organizer); a problem with the email is shown beside it.
func (s *Service) handleStaffAdd(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/events/" + url.PathEscape(id)
	err := s.api.AddStaff(r, id, r.PostForm.Get("email"))
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, page, "staff_added", nil)
	case st == http.StatusBadRequest:
		f := newForm(typed(r, "email"))
		f.addAPIError(err, "email")
		if msg := f.Errors["email"]; msg != "" {
			f.Errors["email"] = eventMessage(msg)
		}
		s.redirect(w, r, page, "", f)
	case st == http.StatusForbidden:
		s.redirect(w, r, page, "", nil)
	default:
		s.fail(w, r, err)
	}
}

// handleStaffRemove takes a door staff member off the event.
func (s *Service) handleStaffRemove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/events/" + url.PathEscape(id)
	err := s.api.RemoveStaff(r, id, r.PostForm.Get("email"))
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, page, "staff_removed", nil)
	case st == http.StatusBadRequest, st == http.StatusForbidden:
		f := newForm(nil)
		f.addAPIError(err)
		s.redirect(w, r, page, "", f)
	default:
		s.fail(w, r, err)
	}
}

// organizerRoomRefresh is how often the organizer's event page reloads
// itself while its waiting room is open: the view is live.
const organizerRoomRefresh = 10

// admissionRate is admitted per minute since onSaleAt, rounded; 0 before
// the on-sale (nobody is let in then).
func admissionRate(admitted int, onSaleAt, now time.Time) int {
	since := now.Sub(onSaleAt)
	if since <= 0 {
		return 0
	}
	return int(math.Round(float64(admitted) / since.Minutes()))
}

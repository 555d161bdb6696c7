package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The door page (DESIGN.md section 9.2): the organizer or the door staff
// of an event type a code, or a hand scanner types it and Enter, or the
// camera reads it where the browser can (door.js); the page answers in
// big, unmistakable words and is ready for the next code.
//
// The form is answered with post/redirect/get like every other: the
// result travels to the page in the signed flash cookie, shown once, so
// reloading the page never scans a code again.

// Results of a check-in (the API's) and the page's own: refused (not the
// organizer nor door staff) and blank (nothing typed).
const (
	checkAdmitted    = "admitted"
	checkAlreadyUsed = "already_used"
	checkVoid        = "void"
	checkWrongEvent  = "wrong_event"
	checkEventEnded  = "event_ended"
	checkInvalid     = "invalid"
	checkRefused     = "refused"
	checkBlank       = "blank"
)

// The flash values that carry a result to the page: set from the API's
// answer by the handler, never from what was posted.
const (
	flashResult    = "result"
	flashCheckedAt = "checkedInAt"
	flashScannedAt = "scannedAt"
	flashTicket    = "ticket"
)

// doorResult is the last scan's result as the page shows it.
type doorResult struct {
	Result string
	// CheckedIn is the admission (the first one for already_used), in the
	// event's zone.
	CheckedIn zonedTime
	// Scanned is when this scan was answered, to the second in the
	// event's zone ("20:05:31 CEST"), so two scans alike in a row still
	// look different.
	Scanned   time.Time
	ScannedAt string
	// Ticket is the ticket's id, its last part shown.
	Ticket string
}

// TicketTail is the end of the ticket's id, enough to tell two apart.
func (d doorResult) TicketTail() string {
	if len(d.Ticket) > 8 {
		return d.Ticket[len(d.Ticket)-8:]
	}
	return d.Ticket
}

type doorData struct {
	Event event
	// Organizer: the caller organizes the event (others may be its door
	// staff; the API says when a scan is refused).
	Organizer bool
	Last      *doorResult
}

func doorPath(id string) string { return "/events/" + url.PathEscape(id) + "/checkin" }

// handleDoor is the door page of an event, for anyone signed in: whether
// they may check codes in is the API's to say, at the first scan.
func (s *Service) handleDoor(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Door", "")
	if !ok {
		return
	}
	e, err := s.api.Event(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Door: " + e.Name
	d := doorData{Event: e, Organizer: v.User.ID == e.OrganizerID}
	if res := v.Form.Value(flashResult); res != "" {
		last := &doorResult{Result: res, Ticket: v.Form.Value(flashTicket)}
		if at, err := time.Parse(time.RFC3339Nano, v.Form.Value(flashCheckedAt)); err == nil {
			last.CheckedIn = zoned(at, e.TimeZone)
		}
		if at, err := time.Parse(time.RFC3339Nano, v.Form.Value(flashScannedAt)); err == nil {
			loc, err := time.LoadLocation(e.TimeZone)
			if err != nil {
				loc = time.UTC
			}
			last.Scanned, last.ScannedAt = at, at.In(loc).Format("15:04:05 MST")
		}
		d.Last = last
		// The field is empty for the next code.
		v.Form.Values = url.Values{}
	}
	v.Scripts = append(v.Scripts, s.asset("door.js"))
	v.Data = d
	s.render(w, r, http.StatusOK, "checkin", v)
}

// handleDoorCheck checks the posted code in and shows the result on the
// door page.
func (s *Service) handleDoorCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := doorPath(id)
	f := newForm(url.Values{flashScannedAt: {s.cfg.Now().UTC().Format(time.RFC3339Nano)}})
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		f.Values.Set(flashResult, checkBlank)
		s.redirect(w, r, page, "", f)
		return
	}
	res, err := s.api.CheckIn(r, id, code)
	switch st := statusOf(err); {
	case err == nil:
		switch res.Result {
		case checkAdmitted, checkAlreadyUsed, checkVoid, checkWrongEvent, checkEventEnded, checkInvalid:
			f.Values.Set(flashResult, res.Result)
		default:
			// A result this page does not know (a newer API): not admitted.
			f.Values.Set(flashResult, checkInvalid)
		}
		f.Values.Set(flashTicket, res.Ticket.ID)
		if !res.CheckedInAt.IsZero() {
			f.Values.Set(flashCheckedAt, res.CheckedInAt.UTC().Format(time.RFC3339Nano))
		}
	case st == http.StatusUnauthorized:
		s.toSignIn(w, r)
		return
	case st == http.StatusForbidden:
		f.Values.Set(flashResult, checkRefused)
	case st == http.StatusBadRequest, st == http.StatusConflict, st == http.StatusTooManyRequests:
		// The code is not one (too long, say), or the API would not check
		// it now: nobody is admitted with it.
		f.Values.Set(flashResult, checkInvalid)
	default:
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, page, "", f)
}

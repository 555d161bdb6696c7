package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The waiting room's page (DESIGN.md 9.5): the caller's place, how many
// are ahead, an estimate and the sale's state, refreshing itself with a
// meta refresh without JavaScript, live from the room's server-sent
// events with it (static/queue.js), and announcing changes to screen
// readers through a live region.

// Room times, as the events part keeps them (events.QueueOpensBefore and
// QueueOpenAfter): the web client decides only where to send a visitor.
const (
	roomOpensBefore = 30 * time.Minute
	roomOpenAfter   = time.Hour
)

// queueRefresh is how often the waiting page reloads itself.
const queueRefresh = 5

// roomOpen says whether e's waiting room is open at now.
func roomOpen(e event, now time.Time) bool {
	return e.Queue && e.Status == eventScheduled && !now.Before(e.OnSaleAt.Add(-roomOpensBefore)) &&
		now.Before(e.OnSaleAt.Add(roomOpenAfter))
}

// queueStatus is GET /api/events/{id}/queue's answer.
type queueStatus struct {
	State     string    `json:"state"`
	Joined    bool      `json:"joined"`
	Position  *int      `json:"position"`
	Ahead     *int      `json:"ahead"`
	Estimate  *int64    `json:"estimate"`
	Length    int       `json:"length"`
	Admitted  int       `json:"admitted"`
	SeedHash  string    `json:"seedHash"`
	Seed      string    `json:"seed"`
	Receipt   string    `json:"receipt"`
	Admission string    `json:"admission"`
	Expires   time.Time `json:"admissionExpiresAt"`
	OnSaleAt  time.Time `json:"onSaleAt"`
}

// EstimateText is the estimate in words.
func (q queueStatus) EstimateText() string {
	if q.Estimate == nil {
		return ""
	}
	switch m := (*q.Estimate + 59) / 60; {
	case *q.Estimate == 0:
		return "any moment now"
	case m <= 1:
		return "about a minute"
	default:
		return "about " + strconv.FormatInt(m, 10) + " minutes"
	}
}

// Queue reads where the caller stands in the event's waiting room.
func (c *apiClient) Queue(r *http.Request, eventID string) (queueStatus, error) {
	var q queueStatus
	_, err := c.call(r, http.MethodGet, "/api/events/"+url.PathEscape(eventID)+"/queue", nil, &q)
	return q, err
}

// JoinQueue takes a place in the event's waiting room.
func (c *apiClient) JoinQueue(r *http.Request, eventID string) (queueStatus, error) {
	var q queueStatus
	_, err := c.call(r, http.MethodPost, "/api/events/"+url.PathEscape(eventID)+"/queue", nil, &q)
	return q, err
}

// queueData is the waiting page's content.
type queueData struct {
	Event   event
	Queue   queueStatus
	Refresh int
}

func (s *Service) handleQueueShow(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Waiting room", "")
	if !ok {
		return
	}
	e, err := s.api.Event(r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !e.Queue {
		seeOther(w, r, "/events/"+url.PathEscape(e.ID))
		return
	}
	q, err := s.api.Queue(r, e.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Waiting room · " + e.Name
	d := queueData{Event: e, Queue: q}
	if q.State == "waiting" || q.State == "shuffling" {
		d.Refresh = queueRefresh
	}
	v.Data, v.Refresh = d, d.Refresh
	if d.Refresh > 0 {
		v.Scripts = append(v.Scripts, s.asset("queue.js"))
	}
	s.render(w, r, http.StatusOK, "queue", v)
}

func (s *Service) handleQueueJoin(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/events/" + url.PathEscape(id) + "/queue"
	_, err := s.api.JoinQueue(r, id)
	switch st := statusOf(err); {
	case err == nil:
		seeOther(w, r, page)
	case st == http.StatusUnauthorized:
		seeOther(w, r, "/auth/signin?next="+url.QueryEscape(page))
	case st == http.StatusConflict, st == http.StatusTooManyRequests, st == http.StatusNotFound:
		f := newForm(nil)
		f.addAPIError(err)
		s.redirect(w, r, page, "", f)
	default:
		s.fail(w, r, err)
	}
}

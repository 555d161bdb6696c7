package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The waiting page: the place, the people ahead and the estimate in a
// live region, a meta refresh while waiting, the Buy form with the
// admission once admitted, the join form for one without a place.
func TestQueuePageRenders(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	buyer := &user{ID: "u1", Email: "ann@example.com"}
	e := amsterdam()
	e.Queue = true
	pos, ahead, est := 1234, 1200, int64(300)
	tests := []struct {
		name   string
		v      view
		wants  []string
		absent []string
	}{
		{"waiting", view{User: buyer, Refresh: 5, Data: queueData{Event: e, Refresh: 5, Queue: queueStatus{State: "waiting", Joined: true,
			Position: &pos, Ahead: &ahead, Estimate: &est, Length: 5000, SeedHash: "abc123", Seed: "5eed", Receipt: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}}},
			[]string{`Your receipt: <code>0f1e2d3c4b5a69788796a5b4c3d2e1f0</code>`, `href="/api/events/e1/queue/joins"`, `<noscript><meta http-equiv="refresh" content="5"></noscript>`, `aria-live="polite"`, `data-stream="/api/events/e1/queue/stream"`, `data-state="waiting"`, `role="status"`, "Your place: <strong id=\"queue-position\">1234</strong> of <span id=\"queue-length\">5000</span>",
				"People ahead of you: <strong id=\"queue-ahead\">1200</strong>", "about 5 minutes", "abc123"},
			[]string{`action="/events/e1/buy"`, `action="/events/e1/queue"`}},
		{"shuffling", view{User: buyer, Refresh: 5, Data: queueData{Event: e, Refresh: 5, Queue: queueStatus{State: "shuffling", Joined: true, Length: 10}}},
			[]string{"drawn at random", `http-equiv="refresh"`}, []string{"Your place", "Your receipt", "/queue/joins"}},
		{"admitted", view{User: buyer, CSRF: "tok", Data: queueData{Event: e, Queue: queueStatus{State: "admitted", Joined: true,
			Position: &pos, Admission: "adm.tok.en", Expires: time.Date(2030, 5, 1, 12, 5, 0, 0, time.UTC)}}},
			[]string{"It is your turn", `action="/events/e1/buy"`, `name="admission" value="adm.tok.en"`},
			[]string{`http-equiv="refresh"`}},
		{"not joined", view{User: buyer, CSRF: "tok", Refresh: 5, Data: queueData{Event: e, Refresh: 5, Queue: queueStatus{State: "waiting", Length: 3}}},
			[]string{`action="/events/e1/queue"`, "Join the queue"}, nil},
		{"signed out", view{Data: queueData{Event: e, Queue: queueStatus{State: "waiting"}}},
			[]string{"Sign in to join the queue", "next=/events/e1/queue"}, []string{`action="/events/e1/queue"`}},
		{"sold out", view{User: buyer, Data: queueData{Event: e, Queue: queueStatus{State: "sold_out", Joined: true}}},
			[]string{"Sold out."}, []string{`action="/events/e1/buy"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Title = "Waiting room"
			v.Form = newForm(nil)
			rec := httptest.NewRecorder()
			s.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "queue", &v)
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
		})
	}
}

func TestRoomOpen(t *testing.T) {
	e := amsterdam()
	e.Queue = true
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{-31 * time.Minute, false}, {-30 * time.Minute, true}, {0, true}, {59 * time.Minute, true}, {time.Hour, false}} {
		if got := roomOpen(e, e.OnSaleAt.Add(tc.at)); got != tc.want {
			t.Errorf("at onSaleAt%+v: open %v, want %v", tc.at, got, tc.want)
		}
	}
	e.Queue = false
	if roomOpen(e, e.OnSaleAt) {
		t.Error("an event without a queue has an open room")
	}
}

// The organizer sees how many wait and how many are let in.
func TestEventPageShowsTheRoomToItsOrganizer(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	org := &user{ID: "org", Email: "org@example.com", Organizer: true}
	e := amsterdam()
	e.Queue = true
	v := view{User: org, Form: newForm(nil), Live: organizerRoomRefresh, Data: eventData{Event: eventCard{event: e, Sale: sale(e, fixedNow())}, Mine: true,
		Room: &queueStatus{State: "waiting", Length: 5000, Admitted: 150}, RoomRate: 75}}
	rec := httptest.NewRecorder()
	s.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "event", &v)
	body := rec.Body.String()
	for _, want := range []string{
		"Waiting room: <strong>5000</strong> joined, <strong>150</strong> let in so far (about 75 a minute)",
		`<meta http-equiv="refresh" content="10">`, // live, with or without JavaScript
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("the organizer's page lacks %q:\n%s", want, body)
		}
	}
}

// TestAdmissionRate: the organizer's view says how many the room lets in
// a minute since the on-sale.
func TestAdmissionRate(t *testing.T) {
	t.Parallel()
	onSale := fixedNow()
	tests := []struct {
		admitted int
		since    time.Duration
		want     int
	}{
		{150, -time.Minute, 0}, // before the on-sale
		{150, 0, 0},
		{150, 2 * time.Minute, 75},
		{100, 30 * time.Second, 200},
		{1, 3 * time.Minute, 0},
	}
	for _, tt := range tests {
		if got := admissionRate(tt.admitted, onSale, onSale.Add(tt.since)); got != tt.want {
			t.Errorf("admissionRate(%d, %v after) = %d, want %d", tt.admitted, tt.since, got, tt.want)
		}
	}
}

package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type answer = struct {
	status int
	body   string
}

// TestDoorPage: a code posted at the door goes to POST /api/checkins with
// the event; the result comes back on the page by post/redirect/get, big
// and in words, once (a reload shows the page ready, and sends nothing);
// a refusal says who may check in.
func TestDoorPage(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{me: &user{ID: "org", Email: "org@example.com", Organizer: true}, ev: amsterdam()}
	c := newFakeWeb(t, api)

	page := c.get("/events/e1/checkin")
	if page.Code != http.StatusOK {
		t.Fatalf("the door page = %d", page.Code)
	}
	body := page.Body.String()
	for _, want := range []string{`action="/events/e1/checkin"`, `name="code"`, ` autofocus`, `role="status"`, "Ready: scan or type a code.", `id="door-camera" hidden`, "/static/door."} {
		if !strings.Contains(body, want) {
			t.Errorf("the door page lacks %q", want)
		}
	}
	if m := findInline(body); m != "" {
		t.Errorf("the door page holds inline code a strict CSP blocks: %q", m)
	}
	checkSecurityHeaders(t, page.Header())

	tests := []struct {
		name   string
		code   string
		answer answer
		wants  []string
	}{
		{"admitted", "abcd-efgh-jkmn", answer{200, `{"result":"admitted","ticket":{"id":"t-0123456789","eventId":"e1"},"checkedInAt":"2030-06-21T18:05:00Z"}`},
			[]string{"door-admitted", "ADMITTED", "Let them in.", "…23456789", "Scanned at <time datetime=\"2030-05-01T12:00:00Z\" data-fixed>14:00:00 CEST</time>"}},
		{"already used, with when in the event's zone", "abcd-efgh-jkmn", answer{200, `{"result":"already_used","ticket":{"id":"t1","eventId":"e1"},"checkedInAt":"2030-06-21T18:05:00Z"}`},
			[]string{"door-already_used", "ALREADY USED", "Fri 21 Jun 2030, 20:05 CEST", "Do not let them in."}},
		{"void", "x", answer{200, `{"result":"void","ticket":{"id":"t1","eventId":"e1"}}`}, []string{"door-void", "VOID"}},
		{"wrong event", "x", answer{200, `{"result":"wrong_event","ticket":{"id":"t1","eventId":"e2"}}`}, []string{"door-wrong_event", "WRONG EVENT"}},
		{"event ended", "x", answer{200, `{"result":"event_ended","ticket":{"id":"t1","eventId":"e1"}}`}, []string{"door-event_ended", "EVENT ENDED", "Do not let them in."}},
		{"invalid", "x", answer{200, `{"result":"invalid","ticket":{}}`}, []string{"door-invalid", "INVALID"}},
		{"a result this page does not know is not admitted", "x", answer{200, `{"result":"being_resold","ticket":{"id":"t1"}}`}, []string{"INVALID"}},
		{"not door staff", "x", answer{403, `{"errors":[{"message":"Not door staff","code":"not_door_staff"}]}`},
			[]string{"door-refused", "NOT ALLOWED", "only its organizer and the door staff"}},
		{"refused as malformed", "x", answer{400, `{"errors":[{"field":"code","message":"code is too long","code":"invalid"}]}`}, []string{"INVALID"}},
		{"refused for now", "x", answer{429, `{"errors":[{"message":"Slow down","code":"rate_limited"}]}`}, []string{"INVALID"}},
		{"blank: the API is not asked", "   ", answer{}, []string{"door-blank", "Type or scan"}},
	}
	for _, tt := range tests {
		api.mu.Lock()
		api.seen = nil
		api.answers = map[string]answer{"POST /api/checkins": tt.answer}
		api.mu.Unlock()
		wantRedirect(t, tt.name, c.post("/events/e1/checkin", url.Values{"code": {tt.code}}), "/events/e1/checkin")
		sent := api.sent("POST /api/checkins")
		if tt.answer.status == 0 {
			if sent != "" {
				t.Errorf("%s: the API was asked: %s", tt.name, sent)
			}
		} else if !strings.Contains(sent, `"code":"`+strings.TrimSpace(tt.code)+`"`) || !strings.Contains(sent, `"eventId":"e1"`) {
			t.Errorf("%s: the API was sent %s", tt.name, sent)
		}
		body := c.get("/events/e1/checkin").Body.String()
		for _, want := range tt.wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the result lacks %q", tt.name, want)
			}
		}
		if strings.Contains(body, `value="`+tt.code+`"`) {
			t.Errorf("%s: the code field is not empty for the next code", tt.name)
		}
		// A reload shows the page ready again and checks nothing in.
		api.mu.Lock()
		api.seen = nil
		api.mu.Unlock()
		if again := c.get("/events/e1/checkin").Body.String(); !strings.Contains(again, "Ready: scan or type a code.") || api.sent("POST") != "" {
			t.Errorf("%s: a reload shows the result again or sends something", tt.name)
		}
	}

	// The door page is for the signed in; another's event is theirs to
	// open (they may be door staff), with a note.
	api.mu.Lock()
	api.me = &user{ID: "door", Email: "door@example.com"}
	api.mu.Unlock()
	if body := c.get("/events/e1/checkin").Body.String(); !strings.Contains(body, "Only the event's organizer and its door staff") {
		t.Error("door staff's page lacks the note on who may check in")
	}
	api.mu.Lock()
	api.me = nil
	api.mu.Unlock()
	if rec := c.get("/events/e1/checkin"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/auth/signin?next=") {
		t.Errorf("signed out = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := c.get("/events/nope/checkin"); rec.Code != http.StatusSeeOther {
		t.Errorf("signed out, unknown event = %d", rec.Code)
	}
}

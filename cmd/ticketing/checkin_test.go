package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// codeJSON is GET /api/tickets/{id}/code's answer.
type codeJSON struct {
	TicketID    string `json:"ticketId"`
	EventID     string `json:"eventId"`
	CodeVersion int64  `json:"codeVersion"`
	Code        string `json:"code"`
	Short       string `json:"short"`
}

// checkinJSON is POST /api/checkins' answer.
type checkinJSON struct {
	Result string `json:"result"`
	Ticket *struct {
		ID      string `json:"id"`
		EventID string `json:"eventId"`
	} `json:"ticket"`
	CheckedInAt *time.Time `json:"checkedInAt"`
}

// createOnSaleEvent creates an event through the API, on sale now, and
// returns its id.
func createOnSaleEvent(t *testing.T, org *client, name string, capacity int) string {
	t.Helper()
	var ev eventJSON
	body := map[string]any{"name": name, "venue": "Paradiso", "startsAt": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"onSaleAt": time.Now().UTC().Format(time.RFC3339), "faceValue": "40", "capacity": capacity}
	if got := org.do("POST", "/api/events", body, &ev); got != http.StatusCreated {
		t.Fatalf("create event %s = %d", name, got)
	}
	return ev.ID
}

// buyHeld has buyer order one of the event's tickets, pay for it, and
// waits until they hold it; it returns the ticket's id.
func buyHeld(t *testing.T, buyer *client, eventID string) string {
	t.Helper()
	var order eventOrderJSON
	natsbustest.Eventually(t, 15*time.Second, "an order for the event's ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"eventId": eventID}, &order) == http.StatusCreated
	})
	natsbustest.Eventually(t, 15*time.Second, "the payment is taken", func() bool {
		return pay(t, buyer, order.ID, "tok_visa") == http.StatusCreated
	})
	natsbustest.Eventually(t, 15*time.Second, "the buyer holds the ticket", func() bool {
		var held issuedJSON
		buyer.do("GET", "/api/tickets/"+order.Ticket.ID, nil, &held)
		return held.Status == "held"
	})
	return order.Ticket.ID
}

// TestUpCheckIn is the door end to end through `up`: an organizer's event,
// a paid ticket, its code, door staff, and every answer a door gets.
func TestUpCheckIn(t *testing.T) {
	t.Parallel()
	const key = "checkin-test-key-checkin-test-ke"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	buyer := signUp(t, base, "buyer@example.com")
	door := signUp(t, base, "Door@Example.com")
	anon := newClient(t, base)

	show, other := createOnSaleEvent(t, org, "Jazz night", 2), createOnSaleEvent(t, org, "Rock night", 1)
	ticket, otherTicket := buyHeld(t, buyer, show), buyHeld(t, buyer, other)

	var code codeJSON
	if got := buyer.do("GET", "/api/tickets/"+ticket+"/code", nil, &code); got != http.StatusOK {
		t.Fatalf("GET code = %d", got)
	}
	if code.TicketID != ticket || code.EventID != show || code.CodeVersion != 1 || !strings.HasPrefix(code.Code, "T1.") || len(code.Short) != 14 {
		t.Fatalf("code = %+v", code)
	}
	for who, c := range map[string]*client{"the organizer": org, "door staff": door} {
		if got := c.do("GET", "/api/tickets/"+ticket+"/code", nil, nil); got != http.StatusNotFound {
			t.Errorf("code to %s = %d, want 404", who, got)
		}
	}
	if got := anon.do("GET", "/api/tickets/"+ticket+"/code", nil, nil); got != http.StatusUnauthorized {
		t.Errorf("code signed out = %d, want 401", got)
	}
	var otherCode codeJSON
	buyer.do("GET", "/api/tickets/"+otherTicket+"/code", nil, &otherCode)

	checkin := func(c *client, code, eventID string) (int, checkinJSON, errorCode) {
		t.Helper()
		body := map[string]string{"code": code}
		if eventID != "" {
			body["eventId"] = eventID
		}
		// One request, decoded as either answer: a scan is not repeatable
		// (sent again to read its error, it could admit the ticket unseen).
		var answer struct {
			checkinJSON
			errorCode
		}
		got := c.do("POST", "/api/checkins", body, &answer)
		return got, answer.checkinJSON, answer.errorCode
	}
	// Not staff yet: 403; signed out: 401.
	if got, _, e := checkin(door, code.Code, show); got != http.StatusForbidden || e.code() != "not_door_staff" {
		t.Fatalf("check-in before being staff = %d %s, want 403 not_door_staff", got, e.code())
	}
	if got, _, _ := checkin(anon, code.Code, show); got != http.StatusUnauthorized {
		t.Fatalf("check-in signed out = %d, want 401", got)
	}
	if got := org.do("POST", "/api/events/"+show+"/staff", map[string]string{"email": "door@example.com"}, nil); got != http.StatusOK {
		t.Fatalf("add staff = %d", got)
	}
	var first checkinJSON
	natsbustest.Eventually(t, 15*time.Second, "the door staff admitted", func() bool {
		got, out, _ := checkin(door, code.Code, show)
		first = out
		return got == http.StatusOK
	})
	if first.Result != "admitted" || first.Ticket == nil || first.Ticket.ID != ticket || first.CheckedInAt == nil {
		t.Fatalf("first scan = %+v, want admitted", first)
	}
	steps := []struct {
		name    string
		c       *client
		code    string
		eventID string
		want    string
	}{
		{"again", door, code.Code, show, "already_used"},
		{"the short form", door, strings.ToLower(code.Short), show, "already_used"},
		{"the short form without eventId, by the organizer", org, code.Short, "", "already_used"},
		{"another event's code", door, otherCode.Code, show, "wrong_event"},
		{"a forged code", door, code.Code[:len(code.Code)-4] + "AAAA", show, "invalid"},
		{"a cut code", door, code.Code[:40], show, "invalid"},
		{"an unknown short form", door, "ZZZZ-ZZZZ-ZZZZ", show, "invalid"},
	}
	for _, s := range steps {
		got, out, _ := checkin(s.c, s.code, s.eventID)
		if got != http.StatusOK || out.Result != s.want {
			t.Errorf("%s = %d %+v, want %s", s.name, got, out, s.want)
		}
		if s.want == "already_used" && (out.CheckedInAt == nil || !out.CheckedInAt.Equal(*first.CheckedInAt)) {
			t.Errorf("%s: checkedInAt %v, want the first admission's %v", s.name, out.CheckedInAt, first.CheckedInAt)
		}
	}
	if got, _, e := checkin(buyer, code.Code, show); got != http.StatusForbidden || e.code() != "not_door_staff" {
		t.Errorf("check-in by the buyer = %d %s, want 403", got, e.code())
	}
	if got, _, _ := checkin(door, " ", show); got != http.StatusBadRequest {
		t.Errorf("check-in without a code = %d, want 400", got)
	}

	// Cancelled: the other event's code is void, at its own door too.
	if got := org.do("POST", "/api/events/"+other+"/cancel", nil, nil); got != http.StatusOK {
		t.Fatalf("cancel = %d", got)
	}
	natsbustest.Eventually(t, 15*time.Second, "the cancelled event's code void", func() bool {
		got, out, _ := checkin(org, otherCode.Short, other)
		return got == http.StatusOK && out.Result == "void"
	})
	var e errorCode
	if got := buyer.do("GET", "/api/tickets/"+otherTicket+"/code", nil, &e); got != http.StatusConflict || e.code() != "ticket_void" {
		t.Errorf("code of a void ticket = %d %s, want 409 ticket_void", got, e.code())
	}
}

// TestUpRepriceBeforeTheOnSale: through `up`, an organizer changes the
// face value and on-sale time of an event whose tickets are issued and not
// on sale yet; the tickets take them, and the first buyer pays the new
// price from the new on-sale time.
func TestUpRepriceBeforeTheOnSale(t *testing.T) {
	t.Parallel()
	const key = "reprice-test-key-reprice-test-ke"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	buyer := signUp(t, base, "buyer@example.com")
	var ev eventJSON
	opens := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body := map[string]any{"name": "Jazz night", "venue": "Paradiso", "startsAt": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"onSaleAt": opens.Format(time.RFC3339), "faceValue": "40", "capacity": 3}
	if got := org.do("POST", "/api/events", body, &ev); got != http.StatusCreated {
		t.Fatalf("create event = %d", got)
	}
	natsbustest.Eventually(t, 15*time.Second, "every ticket issued", func() bool {
		var got eventJSON
		org.do("GET", "/api/events/"+ev.ID, nil, &got)
		return got.TicketsIssued == 3
	})
	// Sooner, and cheaper; a few seconds ahead so that the tickets'
	// new versions reach orders first.
	sooner := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	var edited eventJSON
	if got := org.do("PUT", "/api/events/"+ev.ID, map[string]any{"faceValue": "30", "onSaleAt": sooner.Format(time.RFC3339)}, &edited); got != http.StatusOK {
		t.Fatalf("edit the face value before the on-sale = %d", got)
	}
	var order eventOrderJSON
	natsbustest.Eventually(t, 30*time.Second, "an order once the new on-sale time comes", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &order) == http.StatusCreated
	})
	if order.Ticket.Price != 30 {
		t.Fatalf("order = %+v, want the new face value 30", order)
	}
	if time.Now().Before(sooner) {
		t.Fatalf("ordered before the new on-sale time %v", sooner)
	}
	// Once on sale, the face value is fixed.
	if got := org.do("PUT", "/api/events/"+ev.ID, map[string]any{"faceValue": "35"}, nil); got != http.StatusBadRequest {
		t.Fatalf("edit the face value after the on-sale = %d, want 400", got)
	}
}

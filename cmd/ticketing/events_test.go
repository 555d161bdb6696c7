package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// eventJSON is an event as the API shows it.
type eventJSON struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Venue         string   `json:"venue"`
	Status        string   `json:"status"`
	Version       int64    `json:"version"`
	TicketsLeft   int64    `json:"ticketsLeft"`
	TicketsIssued int64    `json:"ticketsIssued"`
	Staff         []string `json:"staff"`
}

// asOrganizer signs c's user in again as an organizer: a session token
// with the organizer claim, signed with the system's key, as auth issues
// it at the sign-in after `ticketing admin organizer grant`.
func asOrganizer(t *testing.T, c *client, key string) {
	t.Helper()
	var cu currentUser
	c.do("GET", "/api/users/currentuser", nil, &cu)
	if cu.CurrentUser == nil {
		t.Fatal("not signed in")
	}
	tok, err := session.Issue([]byte(key), session.User{ID: cu.CurrentUser.ID, Email: cu.CurrentUser.Email, Organizer: true}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.base)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieName, Value: tok, Path: "/"}})
}

// errorCode is the code of the first error of an error body.
type errorCode struct {
	Errors []struct{ Code, Field string } `json:"errors"`
}

func (e errorCode) code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// TestUpEvents walks an organizer's event through `up`: create, list,
// search, page, edit, staff, tickets left (from ticket events on the bus),
// cancel; and the 401 and 403 of those who may not.
func TestUpEvents(t *testing.T) {
	t.Parallel()
	const key = "events-test-key-events-test-key-"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	buyer := signUp(t, base, "buyer@example.com")
	anon := newClient(t, base)

	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	body := func(name, venue string, in time.Duration) map[string]any {
		return map[string]any{"name": name, "venue": venue, "timeZone": "Europe/Amsterdam",
			"startsAt": starts.Add(in).Format(time.RFC3339), "faceValue": "40", "capacity": 3}
	}
	var e errorCode
	if got := anon.do("POST", "/api/events", body("x", "y", 0), &e); got != http.StatusUnauthorized {
		t.Fatalf("signed out create = %d", got)
	}
	if got := buyer.do("POST", "/api/events", body("x", "y", 0), &e); got != http.StatusForbidden || e.code() != "not_organizer" {
		t.Fatalf("a buyer's create = %d %+v, want 403 not_organizer", got, e)
	}
	var bad errorCode
	if got := org.do("POST", "/api/events", map[string]any{"name": "", "venue": "Hall", "startsAt": "soon", "faceValue": 1, "capacity": 0}, &bad); got != http.StatusBadRequest ||
		len(bad.Errors) != 3 {
		t.Fatalf("bad create = %d %+v", got, bad)
	}
	var jazz, rock eventJSON
	if got := org.do("POST", "/api/events", body("Jazz Night", "Paradiso Amsterdam", time.Hour), &jazz); got != http.StatusCreated {
		t.Fatalf("create = %d", got)
	}
	if got := org.do("POST", "/api/events", body("Rock", "Ziggo Dome", 0), &rock); got != http.StatusCreated {
		t.Fatalf("create = %d", got)
	}

	var list []eventJSON
	resp, err := http.Get(base + "/api/events?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	link := resp.Header.Get("Link")
	if len(list) != 1 || list[0].ID != rock.ID || !strings.Contains(link, "after=") {
		t.Fatalf("first page %+v, Link %q", list, link)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	if anon.do("GET", next, nil, &list); len(list) != 1 || list[0].ID != jazz.ID {
		t.Fatalf("second page %+v", list)
	}
	if anon.do("GET", "/api/events?q=amsterdam+JAZZ", nil, &list); len(list) != 1 || list[0].ID != jazz.ID {
		t.Fatalf("search %+v", list)
	}

	var edited eventJSON
	if got := buyer.do("PUT", "/api/events/"+jazz.ID, map[string]any{"name": "x"}, &e); got != http.StatusForbidden {
		t.Fatalf("a buyer's edit = %d", got)
	}
	if got := org.do("PUT", "/api/events/"+jazz.ID, map[string]any{"name": "Jazz Late Night"}, &edited); got != http.StatusOK ||
		edited.Name != "Jazz Late Night" || edited.Venue != "Paradiso Amsterdam" || edited.Version != 1 {
		t.Fatalf("edit = %d %+v", got, edited)
	}
	if got := org.do("PUT", "/api/events/"+jazz.ID, map[string]any{"capacity": 4}, &e); got != http.StatusBadRequest || e.code() != "capacity_locked" {
		t.Fatalf("capacity edit = %d %+v", got, e)
	}
	if got := org.do("POST", "/api/events/"+jazz.ID+"/staff", map[string]string{"email": "Door@Example.com"}, &edited); got != http.StatusOK ||
		len(edited.Staff) != 1 || edited.Staff[0] != "door@example.com" {
		t.Fatalf("add staff = %d %+v", got, edited)
	}
	if got := org.do("DELETE", "/api/events/"+jazz.ID+"/staff/door@example.com", nil, &edited); got != http.StatusOK || len(edited.Staff) != 0 {
		t.Fatalf("remove staff = %d %+v", got, edited)
	}

	// Tickets left follows the tickets part: it issues the event's three
	// tickets, and a reservation takes one off sale.
	natsbustest.Eventually(t, 20*time.Second, "three tickets issued and on sale", func() bool {
		var got eventJSON
		anon.do("GET", "/api/events/"+jazz.ID, nil, &got)
		return got.TicketsLeft == 3 && got.TicketsIssued == 3
	})
	natsbustest.Eventually(t, 10*time.Second, "orders knows the event's tickets", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"eventId": jazz.ID}, nil) == http.StatusCreated
	})
	natsbustest.Eventually(t, 20*time.Second, "two tickets left", func() bool {
		var got eventJSON
		anon.do("GET", "/api/events/"+jazz.ID, nil, &got)
		return got.TicketsLeft == 2 && got.TicketsIssued == 3
	})

	var cancelled eventJSON
	if got := buyer.do("POST", "/api/events/"+jazz.ID+"/cancel", nil, &e); got != http.StatusForbidden {
		t.Fatalf("a buyer's cancel = %d", got)
	}
	if got := org.do("POST", "/api/events/"+jazz.ID+"/cancel", nil, &cancelled); got != http.StatusOK || cancelled.Status != "cancelled" {
		t.Fatalf("cancel = %d %+v", got, cancelled)
	}
	if anon.do("GET", "/api/events", nil, &list); len(list) != 1 || list[0].ID != rock.ID {
		t.Fatalf("list after the cancellation %+v", list)
	}
	if org.do("GET", "/api/events/mine", nil, &list); len(list) != 2 {
		t.Fatalf("mine %+v", list)
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// webOrganizer signs email up in a new browser, has the operator make the
// account an organizer (`ticketing admin organizer grant`, on up's data
// dir) and signs in again, which is when the grant takes effect.
func webOrganizer(t *testing.T, base, dataDir, email string) *webBrowser {
	t.Helper()
	b := webSignUp(t, base, email)
	if _, err := runAdmin(t, map[string]string{"TICKETING_DATA_DIR": dataDir}, "organizer", "grant", email); err != nil {
		t.Fatalf("grant %s: %v", email, err)
	}
	b.get("/") // signed in, the sign-in page redirects here; its forms carry the token
	webRedirect(t, "sign in "+email, b.post("/auth/signin", url.Values{"email": {email}, "password": {"correct horse"}}), "/")
	return b
}

// TestWebEvents: an organizer creates, edits and staffs an event through
// the forms (times typed in the event's zone, the price with a decimal
// comma, the API's problems beside the fields); a visitor finds it above
// the unverified listings and on its page, in the event's zone; a buyer is
// offered Buy once a ticket is on sale; the organizer cancels it after a
// confirmation, and it leaves the index. Without JavaScript, as every form
// works.
func TestWebEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, app := startUp(t, dir, nil)
	org := webOrganizer(t, base, dir, "org@example.com")
	buyer := webSignUp(t, base, "buyer@example.com")
	anon := newWebBrowser(t, base)
	webSell(t, buyer, "Concert, row F", "20.50")

	// Only organizers are offered, or served, the organizer's pages.
	webWant(t, "a buyer's create form", buyer.get("/events/new"), http.StatusForbidden, "For organizers only")
	if p := buyer.get("/"); strings.Contains(p.body, `href="/events/mine"`) {
		t.Fatal("a buyer's header offers My Events")
	}
	webWant(t, "the organizer's header", org.get("/"), http.StatusOK, `href="/events/mine"`)
	webWant(t, "no events yet", org.get("/events/mine"), http.StatusOK, "You have no events yet", `href="/events/new"`)

	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().In(ams).AddDate(0, 0, 3)
	starts := time.Date(day.Year(), day.Month(), day.Day(), 20, 0, 0, 0, ams)
	form := url.Values{"name": {"Jazz Night"}, "venue": {"Paradiso, Amsterdam"}, "timeZone": {"Europe/Amsterdam"},
		"startsAt": {starts.Format("2006-01-02T15:04")}, "onSaleAt": {starts.Add(time.Hour).Format("2006-01-02T15:04")},
		"faceValue": {"1,234"}, "capacity": {"3"}, "resaleCapPercent": {"110"}, "transfers": {"on"}}

	// A price the form cannot read is refused before the API is asked;
	// then the API's problem (on sale after the start) beside its field.
	org.get("/events/new")
	p := org.follow("a create with an ambiguous price", org.post("/events/new", form), "/events/new")
	webWant(t, "the price's problem", p, http.StatusOK, `id="faceValue-error"`, "Write 1234 or 1234.00", `value="Jazz Night"`)
	form.Set("faceValue", "40,50")
	p = org.follow("a create on sale after the start", org.post("/events/new", form), "/events/new")
	webWant(t, "the on-sale time's problem", p, http.StatusOK, `id="onSaleAt-error">The on-sale time must be before the start time.`, `value="40,50"`)
	if strings.Contains(p.body, `id="name-error"`) {
		t.Fatal("a field without a problem is marked")
	}
	if ids := regexp.MustCompile(`/events/[0-9a-f-]{36}`).FindString(org.get("/events/mine").body); ids != "" {
		t.Fatalf("a refused form created %s", ids)
	}

	form.Del("onSaleAt") // on sale at once
	loc := webRedirect(t, "create", org.post("/events/new", form), "/events/")
	id := strings.TrimPrefix(loc, "/events/")
	inAms := starts.Format("Mon 2 Jan 2006, 15:04 MST")
	p = org.open(loc)
	webWant(t, "the new event", p, http.StatusOK, "Your event is created", "Jazz Night", "Paradiso, Amsterdam", "$40.50",
		inAms, "(Europe/Amsterdam)", `datetime="`+starts.UTC().Format(time.RFC3339)+`"`, "Sold so far", `href="/events/`+id+`/checkin"`)

	// Edit: the form holds the event as it is, times in its zone.
	p = org.get("/events/" + id + "/edit")
	webWant(t, "the edit form", p, http.StatusOK, `value="Jazz Night"`, `value="40.50"`, `value="`+starts.Format("2006-01-02T15:04")+`"`,
		`value="3"`, "readonly", `value="110"`)
	form.Set("name", "Jazz Late Night")
	form.Set("startsAt", starts.Add(30*time.Minute).Format("2006-01-02T15:04"))
	webRedirect(t, "edit", org.post("/events/"+id+"/edit", form), "/events/"+id)
	starts = starts.Add(30 * time.Minute)
	inAms = starts.Format("Mon 2 Jan 2006, 15:04 MST")
	webWant(t, "the edited event", org.open("/events/"+id), http.StatusOK, "Your event was updated", "Jazz Late Night", inAms)

	// Door staff: added by email, a bad one refused beside the field,
	// removed.
	p = org.follow("add staff", org.post("/events/"+id+"/staff", url.Values{"email": {"Door@Example.com"}}), "/events/"+id)
	webWant(t, "staff added", p, http.StatusOK, "Door staff added", `<span class="staff-email">door@example.com</span>`)
	p = org.follow("add a bad email", org.post("/events/"+id+"/staff", url.Values{"email": {"nope"}}), "/events/"+id)
	webWant(t, "a bad staff email", p, http.StatusOK, `id="email-error"`, `value="nope"`)
	p = org.follow("remove staff", org.post("/events/"+id+"/staff/remove", url.Values{"email": {"door@example.com"}}), "/events/"+id)
	webWant(t, "staff removed", p, http.StatusOK, "Door staff removed", "No door staff yet")

	// A visitor: on the index above the listings, which are unverified;
	// on the events page; by search.
	p = anon.get("/")
	webWant(t, "the index", p, http.StatusOK, "Upcoming events", `href="/events/`+id+`"`, "Jazz Late Night", "From $40.50", inAms,
		"Resale listings", "Unverified", "Concert, row F")
	if strings.Index(p.body, "Jazz Late Night") > strings.Index(p.body, "Concert, row F") {
		t.Fatal("the events are not above the listings")
	}
	webWant(t, "the events page", anon.get("/events"), http.StatusOK, `href="/events/`+id+`"`)
	webWant(t, "a search", anon.get("/?q=paradiso+jazz"), http.StatusOK, `href="/events/`+id+`"`, "No tickets match")
	if p := anon.get("/?q=opera"); strings.Contains(p.body, `href="/events/`+id+`"`) || !strings.Contains(p.body, "No upcoming events match") {
		t.Fatal("a search for other words shows the event")
	}
	p = anon.get("/events/" + id)
	webWant(t, "the event page signed out", p, http.StatusOK, "Jazz Late Night", inAms, "(Europe/Amsterdam)", "In UTC")
	if strings.Contains(p.body, "Your event") {
		t.Fatal("a visitor is shown the organizer's part")
	}

	// Tickets left comes from the tickets part's events (issuing is its
	// own work, DESIGN.md 9.2): here one ticket of the event as tickets
	// announces it. Then the buyer is offered Buy.
	msg, _ := json.Marshal(events.TicketCreated{ID: uuid.NewString(), Status: events.TicketOnSale, EventID: id, Price: 4050, Title: "Jazz Late Night"})
	for _, err := range app.bus.PublishBatch(context.Background(), []natsbus.Outgoing{{ID: uuid.NewString(), Subject: events.SubjectTicketCreated, Data: msg}}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	natsbustest.Eventually(t, 20*time.Second, "the event page offers Buy", func() bool {
		return strings.Contains(buyer.get("/events/"+id).body, `action="/events/`+id+`/buy"`)
	})
	webWant(t, "the event to buy", buyer.get("/events/"+id), http.StatusOK, "Buy a ticket · $40.50", "tickets-left",
		"$40.50 plus a $4.55 service fee: $45.05 in all") // the default 10% + $0.50, rounded half up
	webWant(t, "the event signed out", anon.get("/events/"+id), http.StatusOK, "Sign in to buy", "next=/events/"+id)

	// Cancel: a confirmation first, then the event says so and leaves the
	// index; My events keeps it.
	webWant(t, "a buyer's cancel page", buyer.get("/events/"+id+"/cancel"), http.StatusForbidden)
	p = org.get("/events/" + id + "/cancel")
	webWant(t, "the confirmation", p, http.StatusOK, "Yes, cancel this event", "void")
	p = org.follow("cancel", org.post("/events/"+id+"/cancel", url.Values{}), "/events/"+id)
	webWant(t, "the cancelled event", p, http.StatusOK, "The event is cancelled", "This event was cancelled")
	if strings.Contains(p.body, `href="/events/`+id+`/edit"`) {
		t.Fatal("a cancelled event offers Edit")
	}
	if p := anon.get("/"); strings.Contains(p.body, `href="/events/`+id+`"`) {
		t.Fatal("the cancelled event is still on the index")
	}
	webWant(t, "My events", org.get("/events/mine"), http.StatusOK, "Jazz Late Night", "Cancelled")
}

package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// resaleAPI is a fake API where the caller holds t1 (not listed), lists t4
// for resale and has t5 listed and reserved by a buyer; the event caps
// resale at 120% of its $40.50 face value, $48.60.
func resaleAPI(t *testing.T) *fakeAPI {
	t.Helper()
	api, _, _ := heldAPI(t)
	api.ev.ResaleCapPercent = 120
	api.answers["GET /api/tickets/mine"] = answer{200, `[
		{"id":"t1","title":"Jazz","price":4050,"userId":"org","status":"held","eventId":"e1","heldByYou":true,"codeVersion":1},
		{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"on_sale","eventId":"e1","heldByYou":true,"codeVersion":1,"resale":true},
		{"id":"t5","title":"Jazz","price":47,"userId":"org","status":"reserved","orderId":"o9","eventId":"e1","heldByYou":true,"codeVersion":1,"resale":true}]`}
	code := api.answers["GET /api/tickets/t1/code"]
	api.answers["GET /api/tickets/t4/code"] = code
	api.answers["GET /api/tickets/t5/code"] = code
	return api
}

// cardOf is the <li> of ticket id on My tickets.
func cardOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="ticket-`+id+`"`)
	if i < 0 {
		t.Fatalf("My tickets has no ticket %s:\n%s", id, body)
	}
	card := body[i:]
	if j := strings.Index(card, "</li>"); j >= 0 {
		card = card[:j]
	}
	return card
}

// TestMyTicketsResale: a held ticket offers Sell with its face value and
// cap; a listed one says its price and offers Withdraw; a reserved one
// offers neither. The forms post to the web's routes, which call the
// listing API (the price typed "45,50" sent as 45.50) and come back to My
// tickets; a refusal comes back beside that ticket's field, the price
// typed kept.
func TestMyTicketsResale(t *testing.T) {
	t.Parallel()
	api := resaleAPI(t)
	c := newFakeWeb(t, api)
	body := c.get("/tickets/mine").Body.String()

	held := cardOf(t, body, "t1")
	for _, want := range []string{`action="/tickets/t1/resale"`, `name="price"`, "Face value $40.50", "resale at $48.60", ">Sell<"} {
		if !strings.Contains(held, want) {
			t.Errorf("the held ticket lacks %q:\n%s", want, held)
		}
	}
	if strings.Contains(held, "Withdraw listing") || strings.Contains(held, "Listed for resale") {
		t.Errorf("the held ticket is shown as listed:\n%s", held)
	}
	listed := cardOf(t, body, "t4")
	for _, want := range []string{"Listed for resale at $45.00", `action="/tickets/t4/resale/withdraw"`, "Withdraw listing", `action="/tickets/t4/resale"`, "Change price"} {
		if !strings.Contains(listed, want) {
			t.Errorf("the listed ticket lacks %q:\n%s", want, listed)
		}
	}
	reserved := cardOf(t, body, "t5")
	if !strings.Contains(reserved, "Listed for resale at $47.00") || !strings.Contains(reserved, "A buyer is paying") ||
		strings.Contains(reserved, "/resale") {
		t.Errorf("the reserved listing should say so and offer no form:\n%s", reserved)
	}

	api.answers["POST /api/tickets/t1/listing"] = answer{200, `{"id":"t1","status":"on_sale"}`}
	wantRedirect(t, "list", c.post("/tickets/t1/resale", url.Values{"price": {"45,50"}}), "/tickets/mine")
	if sent := api.sent("POST /api/tickets/t1/listing "); !strings.Contains(sent, `"price":"45.50"`) {
		t.Errorf("the API was sent %q, want price 45.50", sent)
	}
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "Your ticket is listed for resale") {
		t.Errorf("no confirmation of the listing")
	}

	api.answers["POST /api/tickets/t1/listing"] = answer{400,
		`{"errors":[{"field":"price","message":"The price must be at most 48.60, the event's resale cap","code":"over_resale_cap"}]}`}
	wantRedirect(t, "list over the cap", c.post("/tickets/t1/resale", url.Values{"price": {"60"}}), "/tickets/mine#ticket-t1")
	page := c.get("/tickets/mine").Body.String()
	held = cardOf(t, page, "t1")
	for _, want := range []string{`id="price-error-t1"`, "above the organizer", `value="60"`, `aria-invalid="true"`} {
		if !strings.Contains(held, want) {
			t.Errorf("the refused listing lacks %q beside its field:\n%s", want, held)
		}
	}
	if other := cardOf(t, page, "t4"); strings.Contains(other, "resale cap for this event") || strings.Contains(other, `value="60"`) {
		t.Errorf("the refusal shows beside another ticket:\n%s", other)
	}

	// A price that cannot be read never reaches the API.
	before := len(api.seen)
	wantRedirect(t, "list unreadable", c.post("/tickets/t1/resale", url.Values{"price": {"1,234"}}), "/tickets/mine#ticket-t1")
	for _, s := range api.seen[before:] {
		if strings.HasPrefix(s, "POST /api/tickets/t1/listing") {
			t.Errorf("an unreadable price was sent: %s", s)
		}
	}
	if held := cardOf(t, c.get("/tickets/mine").Body.String(), "t1"); !strings.Contains(held, "could separate thousands") {
		t.Errorf("the unreadable price is not explained:\n%s", held)
	}

	api.answers["DELETE /api/tickets/t4/listing"] = answer{204, ``}
	wantRedirect(t, "withdraw", c.post("/tickets/t4/resale/withdraw", url.Values{}), "/tickets/mine")
	if api.sent("DELETE /api/tickets/t4/listing") == "" {
		t.Errorf("the withdrawal did not reach the API")
	}
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "Your resale listing was withdrawn") {
		t.Errorf("no confirmation of the withdrawal")
	}

	// Resale listings are handled in My tickets, not My listings (whose
	// Edit and Withdraw are for free-form listings).
	if listings := c.get("/listings").Body.String(); strings.Contains(listings, "/tickets/t4") {
		t.Errorf("My listings offers the resale listing t4")
	}

	// The event no longer scheduled: no Sell.
	api.mu.Lock()
	api.ev.Status = eventEnded
	api.mu.Unlock()
	if held := cardOf(t, c.get("/tickets/mine").Body.String(), "t1"); strings.Contains(held, "/resale") {
		t.Errorf("a ticket of an ended event is offered for sale:\n%s", held)
	}
}

// TestResaleTicketPage: the ticket page of a resale listing says it is a
// verified resale, with the event's face value, cap and the price, and
// the Purchase button; its seller is sent to My tickets instead.
func TestResaleTicketPage(t *testing.T) {
	t.Parallel()
	api := resaleAPI(t)
	api.me = &user{ID: "bob", Email: "bob@example.com"}
	api.answers["GET /api/tickets/t4"] = answer{200, `{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"on_sale","eventId":"e1","resale":true}`}
	c := newFakeWeb(t, api)
	rec := c.get("/tickets/t4")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("the ticket page = %d:\n%s", rec.Code, body)
	}
	for _, want := range []string{"Verified resale", "<dt>Face value</dt><dd>$40.50</dd>", "<dt>Resale cap</dt><dd>$48.60</dd>",
		"<dt>Price</dt><dd>$45.00</dd>", `href="/events/e1"`, `action="/tickets/t4/purchase"`, "Purchase"} {
		if !strings.Contains(body, want) {
			t.Errorf("the resale's page lacks %q", want)
		}
	}
	if strings.Contains(body, "Unverified") {
		t.Errorf("a verified resale is called unverified")
	}

	// The event's page lists its resales (GET /api/tickets?eventId=),
	// and says the cap.
	api.mu.Lock()
	api.answers["GET /api/tickets"] = answer{200, `[{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"on_sale","eventId":"e1","resale":true}]`}
	api.mu.Unlock()
	if body := c.get("/events/e1").Body.String(); !strings.Contains(body, `id="event-resales"`) || !strings.Contains(body, "Resale tickets") ||
		!strings.Contains(body, "at most $48.60 each") || !strings.Contains(body, `<a href="/tickets/t4">Verified resale · <span class="price">$45.00</span></a>`) {
		t.Errorf("the event page does not list its resales:\n%s", body)
	}

	// Once held again (withdrawn, or bought): not for sale.
	api.mu.Lock()
	api.answers["GET /api/tickets/t4"] = answer{200, `{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"held","eventId":"e1"}`}
	api.mu.Unlock()
	if body := c.get("/tickets/t4").Body.String(); strings.Contains(body, "/purchase") || !strings.Contains(body, "no longer available") {
		t.Errorf("a held ticket is offered for purchase:\n%s", body)
	}

	// Its seller, the holder: no Purchase, no Edit listing.
	api.mu.Lock()
	api.me = &user{ID: "buyer"}
	api.answers["GET /api/tickets/t4"] = answer{200, `{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"on_sale","eventId":"e1","resale":true,"heldByYou":true}`}
	api.mu.Unlock()
	body = c.get("/tickets/t4").Body.String()
	if !strings.Contains(body, "You are reselling this ticket") || strings.Contains(body, "/purchase") || strings.Contains(body, "/tickets/t4/edit") {
		t.Errorf("the seller's view of their resale:\n%s", body)
	}
}

// TestMyTicketsCapWithdrawn: a listing the organizer's lower cap took off
// sale tells its holder why, and the ticket offers Sell again.
func TestMyTicketsCapWithdrawn(t *testing.T) {
	t.Parallel()
	api := resaleAPI(t)
	api.answers["GET /api/tickets/mine"] = answer{200, `[
		{"id":"t1","title":"Jazz","price":48,"userId":"org","status":"held","eventId":"e1","heldByYou":true,"codeVersion":1,
		 "withdrawnReason":"over_resale_cap","withdrawnCap":45}]`}
	c := newFakeWeb(t, api)
	card := cardOf(t, c.get("/tickets/mine").Body.String(), "t1")
	for _, want := range []string{"Your listing was withdrawn: the organizer lowered the resale cap to $45.00", `action="/tickets/t1/resale"`} {
		if !strings.Contains(card, want) {
			t.Errorf("the withdrawn listing lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "Listed for resale") {
		t.Errorf("the withdrawn listing is shown as listed:\n%s", card)
	}
}

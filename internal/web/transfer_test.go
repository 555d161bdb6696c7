package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMyTicketsTransfer: a held ticket offers Transfer (an email form); a
// pending transfer shows with Cancel transfer instead; a transfer
// offered to the caller shows with Accept; each posts to the API and
// comes back to My tickets, a refusal beside the email field or at the
// top of the page. Transfers off: no form.
func TestMyTicketsTransfer(t *testing.T) {
	t.Parallel()
	api := resaleAPI(t)
	api.answers["GET /api/tickets/mine"] = answer{200, `[
		{"id":"t1","title":"Jazz","price":4050,"userId":"org","status":"held","eventId":"e1","heldByYou":true,"codeVersion":1},
		{"id":"t4","title":"Jazz","price":45,"userId":"org","status":"on_sale","eventId":"e1","heldByYou":true,"codeVersion":1,"resale":true},
		{"id":"t6","title":"Jazz","price":4050,"userId":"org","status":"held","eventId":"e1","heldByYou":true,"codeVersion":1}]`}
	api.answers["GET /api/tickets/t6/code"] = api.answers["GET /api/tickets/t1/code"]
	api.answers["GET /api/transfers"] = answer{200, `{
		"incoming":[{"id":"tr9","ticketId":"t9","eventId":"e1","title":"Jazz — Paradiso","fromUserId":"bob","fromEmail":"bob@example.com","toEmail":"ann@example.com","status":"pending","createdAt":"2030-01-01T00:00:00Z"}],
		"outgoing":[{"id":"tr6","ticketId":"t6","eventId":"e1","title":"Jazz","fromUserId":"buyer","fromEmail":"ann@example.com","toEmail":"cy@example.com","status":"pending","createdAt":"2030-01-01T00:00:00Z"}]}`}
	c := newFakeWeb(t, api)
	body := c.get("/tickets/mine").Body.String()

	held := cardOf(t, body, "t1")
	for _, want := range []string{`action="/tickets/t1/transfer"`, `name="email"`, ">Transfer<", `href="/tickets/t1/history"`} {
		if !strings.Contains(held, want) {
			t.Errorf("the held ticket lacks %q:\n%s", want, held)
		}
	}
	if listed := cardOf(t, body, "t4"); strings.Contains(listed, "/transfer") {
		t.Errorf("a listed ticket offers Transfer:\n%s", listed)
	}
	pending := cardOf(t, body, "t6")
	for _, want := range []string{"Transfer to <strong>cy@example.com</strong> pending", `action="/transfers/tr6/cancel"`, "Cancel transfer"} {
		if !strings.Contains(pending, want) {
			t.Errorf("the ticket with a pending transfer lacks %q:\n%s", want, pending)
		}
	}
	if strings.Contains(pending, `action="/tickets/t6/transfer"`) || strings.Contains(pending, `action="/tickets/t6/resale"`) {
		t.Errorf("a ticket with a pending transfer offers another, or Sell:\n%s", pending)
	}
	for _, want := range []string{"Tickets offered to you", `id="transfer-tr9"`, "bob@example.com is transferring", `action="/transfers/tr9/accept"`, ">Accept<"} {
		if !strings.Contains(body, want) {
			t.Errorf("My tickets lacks %q", want)
		}
	}

	api.answers["POST /api/tickets/t1/transfer"] = answer{201, `{"id":"tr1","status":"pending"}`}
	wantRedirect(t, "transfer", c.post("/tickets/t1/transfer", url.Values{"email": {" cy@example.com "}}), "/tickets/mine#ticket-t1")
	if sent := api.sent("POST /api/tickets/t1/transfer "); !strings.Contains(sent, `"email":"cy@example.com"`) {
		t.Errorf("the API was sent %q", sent)
	}
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "Transfer sent") {
		t.Errorf("no confirmation of the transfer")
	}

	api.answers["POST /api/tickets/t1/transfer"] = answer{400, `{"errors":[{"field":"email","message":"Email must be a valid email address","code":"invalid"}]}`}
	wantRedirect(t, "transfer badly", c.post("/tickets/t1/transfer", url.Values{"email": {"cy"}}), "/tickets/mine#ticket-t1")
	page := c.get("/tickets/mine").Body.String()
	if held := cardOf(t, page, "t1"); !strings.Contains(held, `id="email-error-t1"`) || !strings.Contains(held, "valid email address") ||
		!strings.Contains(held, `value="cy"`) || !strings.Contains(held, `aria-invalid="true"`) {
		t.Errorf("the refused transfer is not explained beside its field:\n%s", held)
	}
	api.answers["POST /api/tickets/t1/transfer"] = answer{409, `{"errors":[{"message":"Transfers of this event's tickets closed when the event started","code":"transfers_closed"}]}`}
	wantRedirect(t, "transfer too late", c.post("/tickets/t1/transfer", url.Values{"email": {"cy@example.com"}}), "/tickets/mine#ticket-t1")
	if held := cardOf(t, c.get("/tickets/mine").Body.String(), "t1"); !strings.Contains(held, "closed when the event started.") {
		t.Errorf("the closed transfer is not explained:\n%s", held)
	}

	api.answers["DELETE /api/transfers/tr6"] = answer{204, ``}
	wantRedirect(t, "cancel", c.post("/transfers/tr6/cancel", url.Values{}), "/tickets/mine")
	if api.sent("DELETE /api/transfers/tr6") == "" {
		t.Errorf("the cancellation did not reach the API")
	}
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "Transfer cancelled") {
		t.Errorf("no confirmation of the cancellation")
	}

	api.answers["POST /api/transfers/tr9/accept"] = answer{409, `{"errors":[{"message":"This transfer was cancelled","code":"transfer_cancelled"}]}`}
	wantRedirect(t, "accept a cancelled one", c.post("/transfers/tr9/accept", url.Values{}), "/tickets/mine")
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "This transfer was cancelled.") {
		t.Errorf("the refused accept is not explained")
	}
	api.answers["POST /api/transfers/tr9/accept"] = answer{200, `{"id":"t9","status":"held","heldByYou":true}`}
	wantRedirect(t, "accept", c.post("/transfers/tr9/accept", url.Values{}), "/tickets/mine")
	if page := c.get("/tickets/mine").Body.String(); !strings.Contains(page, "The ticket is yours. Its entry code is new") {
		t.Errorf("no confirmation of the accept")
	}

	// Transfers off: no form.
	api.mu.Lock()
	api.ev.Transfers = false
	api.mu.Unlock()
	if held := cardOf(t, c.get("/tickets/mine").Body.String(), "t1"); strings.Contains(held, "/transfer") {
		t.Errorf("a ticket of an event without transfers offers Transfer:\n%s", held)
	}
}

// TestTicketHistoryPage: the history as the API gives it, the viewer's
// own periods as "You"; a ticket the API hides is the 404 page.
func TestTicketHistoryPage(t *testing.T) {
	t.Parallel()
	api := resaleAPI(t)
	api.answers["GET /api/tickets/t1"] = answer{200, `{"id":"t1","title":"Jazz night","price":4050,"userId":"org","status":"held","eventId":"e1","heldByYou":true}`}
	api.answers["GET /api/tickets/t1/history"] = answer{200, `[
		{"ticketId":"t1","codeVersion":1,"holderId":"someone-else","reason":"issued","at":"2030-05-01T10:00:00Z"},
		{"ticketId":"t1","codeVersion":2,"holderId":"buyer","reason":"transferred","at":"2030-05-02T10:00:00Z"}]`}
	c := newFakeWeb(t, api)
	rec := c.get("/tickets/t1/history")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("history page = %d:\n%s", rec.Code, body)
	}
	for _, want := range []string{"Jazz night", "Bought from the organizer", "Account someone-", "Received by transfer", "<td>You</td>", `datetime="2030-05-02T10:00:00Z"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the history page lacks %q:\n%s", want, body)
		}
	}
	if rec := c.get("/tickets/t2/history"); rec.Code != http.StatusNotFound {
		t.Errorf("history of a ticket the API hides = %d, want 404", rec.Code)
	}
}

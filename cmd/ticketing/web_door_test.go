package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestWebDoor: through `up`, without JavaScript. An organizer creates an
// event and adds door staff; a buyer buys a ticket and pays; My tickets
// shows its QR code and short form, and the PDF downloads for the holder
// only. At the door the staff member's check-in of the short form admits
// it, the organizer's of the same code says already used, and someone
// else is told they may not check in. Once the event is cancelled the
// ticket's code is void: My tickets says so, without a code or PDF.
func TestWebDoor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, _ := startUp(t, dir, nil)
	org := webOrganizer(t, base, dir, "org@example.com")
	buyer := webSignUp(t, base, "buyer@example.com")
	door := webSignUp(t, base, "door@example.com")
	other := webSignUp(t, base, "other@example.com")

	org.get("/events/new")
	starts := time.Now().UTC().AddDate(0, 0, 30).Truncate(time.Hour)
	loc := webRedirect(t, "create", org.post("/events/new", url.Values{"name": {"Door Night"}, "venue": {"Paradiso"},
		"timeZone": {"Europe/Amsterdam"}, "startsAt": {starts.Format("2006-01-02T15:04")}, "faceValue": {"25"},
		"capacity": {"2"}, "resaleCapPercent": {"100"}}), "/events/")
	id := strings.TrimPrefix(loc, "/events/")
	org.get(loc)
	org.follow("add staff", org.post(loc+"/staff", url.Values{"email": {"door@example.com"}}), loc)

	// The tickets part issues the event's tickets: then it can be bought.
	natsbustest.Eventually(t, 20*time.Second, "the event offers Buy", func() bool {
		return strings.Contains(buyer.get(loc).body, `action="/events/`+id+`/buy"`)
	})
	order := webRedirect(t, "buy", buyer.post(loc+"/buy", url.Values{}), "/orders/")
	buyer.get(order)
	webRedirect(t, "pay", buyer.post(order+"/pay", url.Values{"token": {"tok_visa"}}), "/orders")

	var mine webPage
	natsbustest.Eventually(t, 20*time.Second, "My tickets shows the ticket's code", func() bool {
		mine = buyer.get("/tickets/mine")
		return strings.Contains(mine.body, `class="entry-code"`)
	})
	webWant(t, "My tickets", mine, http.StatusOK, "Door Night", "Paradiso", "(Europe/Amsterdam)", `<svg `, `aria-current="page"`, "Download PDF")
	short := regexp.MustCompile(`class="short-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<`).FindStringSubmatch(mine.body)
	pdfPath := regexp.MustCompile(`href="(/tickets/[0-9a-f-]{36}/pdf)"`).FindStringSubmatch(mine.body)
	if short == nil || pdfPath == nil {
		t.Fatalf("My tickets lacks the short form or the PDF link:\n%s", mine.body)
	}

	pdf := buyer.get(pdfPath[1])
	if pdf.status != http.StatusOK || pdf.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.body, "%PDF-") ||
		!strings.HasPrefix(pdf.header.Get("Content-Disposition"), "attachment;") || !strings.Contains(pdf.header.Get("Cache-Control"), "no-store") {
		t.Fatalf("the holder's PDF = %d %v", pdf.status, pdf.header)
	}
	webWant(t, "someone else's PDF", other.get(pdfPath[1]), http.StatusNotFound, "Page not found")
	if p := buyer.get("/listings"); strings.Contains(p.body, pdfPath[1][:len(pdfPath[1])-4]) {
		t.Error("My listings shows a held ticket")
	}

	doorPage := loc + "/checkin"
	check := func(b *webBrowser, who, code string, want ...string) {
		t.Helper()
		b.get(doorPage)
		p := b.follow(who+" checks "+code+" in", b.post(doorPage, url.Values{"code": {code}}), doorPage)
		webWant(t, who+"'s door page after "+code, p, http.StatusOK, append(want, `role="status"`)...)
		// The result is shown once: a reload is the page ready again.
		webWant(t, who+"'s reloaded door page", b.get(doorPage), http.StatusOK, "Ready: scan or type a code.")
	}
	check(other, "someone else", short[1], "NOT ALLOWED")
	check(door, "the door staff", strings.ToLower(short[1]), "ADMITTED", "door-admitted")
	check(org, "the organizer", short[1], "ALREADY USED", "checked in at")
	check(org, "the organizer", "0000-0000-0000", "INVALID")
	check(org, "the organizer", "  ", "No code")

	// Cancelled, the event's codes are void.
	org.get(loc + "/cancel")
	org.follow("cancel", org.post(loc+"/cancel", url.Values{}), loc)
	natsbustest.Eventually(t, 20*time.Second, "My tickets says the code is void", func() bool {
		mine = buyer.get("/tickets/mine")
		return strings.Contains(mine.body, "code is void")
	})
	if strings.Contains(mine.body, "<svg ") || strings.Contains(mine.body, pdfPath[1]) {
		t.Error("a void ticket still shows its code or PDF")
	}
	webWant(t, "a void ticket's PDF", buyer.get(pdfPath[1]), http.StatusConflict, "This ticket is void")
	check(org, "the organizer", short[1], "VOID")
}

package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

// heldAPI is a fake API where the caller holds t1 (its code readable),
// held t2 once (void now), and sells a free-form listing t3.
func heldAPI(t *testing.T) (*fakeAPI, string, string) {
	t.Helper()
	code := testCode(t)
	plain, err := entrycode.Short(code)
	if err != nil {
		t.Fatal(err)
	}
	short := entrycode.Format(plain) // as the API shows it
	api := &fakeAPI{me: &user{ID: "buyer", Email: "ann@example.com"}, ev: amsterdam()}
	codeBody, _ := json.Marshal(entryCode{TicketID: "t1", EventID: "e1", CodeVersion: 1, Code: code, Short: short})
	api.answers = map[string]answer{
		"GET /api/tickets/mine": {200, `[
			{"id":"t1","title":"Jazz","price":4050,"userId":"org","status":"held","eventId":"e1","heldByYou":true,"codeVersion":1},
			{"id":"t2","title":"Jazz","price":4050,"userId":"org","status":"void","eventId":"e1","heldByYou":true,"codeVersion":2},
			{"id":"t3","title":"My old gig ticket","price":1000,"userId":"buyer","status":"on_sale"}]`},
		"GET /api/tickets/t1/code": {200, string(codeBody)},
		"GET /api/tickets/t2/code": {409, `{"errors":[{"message":"The ticket is void","code":"ticket_void"}]}`},
	}
	return api, code, short
}

// TestMyTickets: each held ticket with its event, the time in the event's
// zone named, a QR code that decodes to the code, the short form and the
// PDF link; a void one says so, without a code; listings for sale stay in
// My listings, and held tickets are not offered there.
func TestMyTickets(t *testing.T) {
	t.Parallel()
	api, code, short := heldAPI(t)
	c := newFakeWeb(t, api)
	rec := c.get("/tickets/mine")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("My tickets = %d:\n%s", rec.Code, body)
	}
	checkSecurityHeaders(t, rec.Header())
	for _, want := range []string{`href="/tickets/mine" aria-current="page"`, "Paradiso, Amsterdam", "Fri 21 Jun 2030, 20:00 CEST", "(Europe/Amsterdam)",
		short, `href="/tickets/t1/pdf"`, "Download PDF", `id="ticket-t2"`, "code is void"} {
		if !strings.Contains(body, want) {
			t.Errorf("My tickets lacks %q", want)
		}
	}
	for _, no := range []string{"/tickets/t2/pdf", "My old gig ticket", `<script>alert`} {
		if strings.Contains(body, no) {
			t.Errorf("My tickets has %q", no)
		}
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(body, -1)
	if len(svgs) != 1 {
		t.Fatalf("%d QR codes, want 1 (the void ticket has none)", len(svgs))
	}
	if got := svgQRText(t, svgs[0]); got != code {
		t.Errorf("the QR code decodes to %q, want the ticket's code", got)
	}
	if m := findInline(body); m != "" {
		t.Errorf("My tickets holds inline code a strict CSP blocks: %q", m)
	}

	listings := c.get("/listings").Body.String()
	if !strings.Contains(listings, "My old gig ticket") || strings.Contains(listings, "/tickets/t1") {
		t.Errorf("My listings should show the listing and not the held tickets:\n%s", listings)
	}

	// Signed out: to sign in, and back.
	api.mu.Lock()
	api.me = nil
	api.mu.Unlock()
	if rec := c.get("/tickets/mine"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/auth/signin?next=%2Ftickets%2Fmine" {
		t.Errorf("signed out = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestTicketPDFPage: the holder downloads the PDF, kept by no shared
// cache; anyone else gets the 404 page, a void ticket says it is void.
func TestTicketPDFPage(t *testing.T) {
	t.Parallel()
	api, _, short := heldAPI(t)
	c := newFakeWeb(t, api)
	rec := c.get("/tickets/t1/pdf")
	if rec.Code != http.StatusOK {
		t.Fatalf("the PDF = %d:\n%s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="ticket-script-alert-x-script-`+strings.ToLower(short)+`.pdf"`) ||
		!strings.Contains(h.Get("Cache-Control"), "no-store") || !strings.Contains(h.Get("Cache-Control"), "private") {
		t.Errorf("PDF headers: %v", h)
	}
	b := rec.Body.Bytes()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the PDF does not parse: %v", err)
	}
	text, err := r.Page(1).GetPlainText(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{short, "Paradiso, Amsterdam", "ann@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}

	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/tickets/t9/pdf", http.StatusNotFound, "Page not found"},
		{"/tickets/t2/pdf", http.StatusConflict, "This ticket is void"},
	} {
		rec := c.get(tt.path)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) || rec.Header().Get("Content-Type") == "application/pdf" {
			t.Errorf("GET %s = %d, want %d with %q", tt.path, rec.Code, tt.status, tt.want)
		}
	}
}

func TestPDFName(t *testing.T) {
	t.Parallel()
	for in, want := range map[[2]string]string{
		{"Jazz at the Bimhuis", "ABCD-EFGH-JKMN"}: "ticket-jazz-at-the-bimhuis-abcd-efgh-jkmn.pdf",
		{`"; filename=x.exe`, "AB"}:               "ticket-filename-x-exe-ab.pdf",
		{"Große Gala", ""}:                        "ticket-gro-e-gala.pdf",
		{"", ""}:                                  "ticket.pdf",
	} {
		if got := pdfName(in[0], in[1]); got != want {
			t.Errorf("pdfName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// TestMyTicketsPages: the web client follows GET /api/tickets/mine page
// after page (each after the previous page's last ticket), so a caller
// with more tickets than one page still sees the older ones.
func TestMyTicketsPages(t *testing.T) {
	t.Parallel()
	const total = minePage + 7
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked = append(asked, r.URL.RawQuery)
		start := 0
		if a := q.Get("after"); a != "" {
			fmt.Sscanf(a, "t%d", &start)
			start++
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		var list []map[string]any
		for i := start; i < total && len(list) < limit; i++ {
			list = append(list, map[string]any{"id": fmt.Sprintf("t%d", i), "title": "Show", "price": 100, "userId": "u", "status": "on_sale"})
		}
		json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	c := newAPIClient(base, http.DefaultTransport, nil)
	list, err := c.MyTickets(httptest.NewRequest("GET", "/tickets/mine", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != total || list[0].ID != "t0" || list[total-1].ID != fmt.Sprintf("t%d", total-1) {
		t.Fatalf("got %d tickets, want all %d in order", len(list), total)
	}
	if len(asked) != 2 || asked[1] != fmt.Sprintf("after=t%d&limit=%d", minePage-1, minePage) {
		t.Fatalf("asked %q, want two pages, the second after the first's last", asked)
	}
}

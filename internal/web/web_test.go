package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// These tests need no API. Pages that show data are tested end to end in
// cmd/ticketing (web_test.go, browser_test.go) against the real system.

// downTransport is a network on which the API cannot be reached.
type downTransport struct{}

func (downTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

// fixedNow is the clock of these tests.
func fixedNow() time.Time { return time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC) }

func newTestService(t *testing.T, stripeKey string) (*Service, http.Handler) {
	t.Helper()
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{
		APIBase:              "http://api.invalid",
		Transport:            downTransport{},
		StripePublishableKey: stripeKey,
		Now:                  fixedNow,
	})
	mux := http.NewServeMux()
	s.Routes(mux)
	return s, mux
}

const strictCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != strictCSP {
		t.Errorf("CSP = %q, want %q", got, strictCSP)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := h.Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("Referrer-Policy = %q", got)
	}
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	s, h := newTestService(t, "")
	tests := []struct {
		name, wantType string
	}{
		{"style.css", "text/css"},
		{"app.js", "javascript"},
		{"countdown.js", "javascript"},
		{"queue.js", "javascript"},
		{"stripe.js", "javascript"},
		{"favicon.svg", "image/svg+xml"},
	}
	hashed := regexp.MustCompile(`^/static/([a-z]+)\.([0-9a-f]{12})\.(css|js|svg)$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := fs.ReadFile(s.static, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			u := s.asset(tt.name)
			m := hashed.FindStringSubmatch(u)
			if m == nil || m[1]+"."+m[3] != strings.Split(tt.name, ".")[0]+"."+m[3] {
				t.Fatalf("asset(%q) = %q, want /static/name.<hash>.ext", tt.name, u)
			}
			rec := get(t, h, u)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), tt.wantType) || rec.Body.String() != string(want) {
				t.Fatalf("GET %s = %d %q, %d bytes", u, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
			}
			checkSecurityHeaders(t, rec.Header())
			if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("GET %s Cache-Control = %q, want a year, immutable", u, cc)
			}

			// Another hash names no file this build has.
			wrong := strings.Replace(u, m[2], "000000000000", 1)
			if rec := get(t, h, wrong); rec.Code != http.StatusNotFound || strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
				t.Errorf("GET %s = %d %q, want a 404 not cached", wrong, rec.Code, rec.Header().Get("Cache-Control"))
			}
			// The plain name, and the ?v= links of earlier versions, lead
			// to the current file, by a redirect not cached for long.
			for _, plain := range []string{"/static/" + tt.name, "/static/" + tt.name + "?v=abc"} {
				rec := get(t, h, plain)
				if rec.Code != http.StatusFound || rec.Header().Get("Location") != u || rec.Header().Get("Cache-Control") != "no-cache" {
					t.Errorf("GET %s = %d to %q (%q), want 302 to %s, no-cache", plain, rec.Code,
						rec.Header().Get("Location"), rec.Header().Get("Cache-Control"), u)
				}
			}
		})
	}
	for _, path := range []string{"/static/nope.css", "/static/nope.000000000000.css", "/static/", "/static/style"} {
		if rec := get(t, h, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
	// Pages link the hashed names.
	rec := get(t, h, "/no/such/page")
	for _, name := range []string{"style.css", "app.js", "favicon.svg"} {
		if !strings.Contains(rec.Body.String(), `"`+s.asset(name)+`"`) {
			t.Errorf("the page does not link %s as %s:\n%s", name, s.asset(name), rec.Body)
		}
	}
}

// compressed fetches target with the Accept-Encoding given and returns the
// answer with its body decoded.
func compressed(t *testing.T, h http.Handler, target, accept string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body []byte
	var err error
	switch rec.Header().Get("Content-Encoding") {
	case "":
		body = rec.Body.Bytes()
	case "gzip":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(rec.Body.Bytes())); err == nil {
			body, err = io.ReadAll(zr)
		}
	case "zstd":
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(bytes.NewReader(rec.Body.Bytes())); err == nil {
			body, err = io.ReadAll(zr)
			zr.Close()
		}
	default:
		t.Fatalf("GET %s: Content-Encoding %q", target, rec.Header().Get("Content-Encoding"))
	}
	if err != nil {
		t.Fatalf("GET %s: decode %s: %v", target, rec.Header().Get("Content-Encoding"), err)
	}
	return rec, string(body)
}

func TestCompression(t *testing.T) {
	t.Parallel()
	s, h := newTestService(t, "")
	css, _ := fs.ReadFile(s.static, "style.css")
	_, page := compressed(t, h, "/", "")
	tests := []struct {
		name, target, accept string
		wantEncoding         string
		want                 string // the decoded body; "" to skip
	}{
		{"stylesheet gzip", s.asset("style.css"), "gzip", "gzip", string(css)},
		{"stylesheet as Chromium asks", s.asset("style.css"), "gzip, deflate, br, zstd", "zstd", string(css)},
		{"script", s.asset("countdown.js"), "gzip", "gzip", ""},
		{"page", "/", "gzip", "gzip", page},
		{"the 404 page", "/no/such/page", "gzip", "gzip", ""},
		{"not asked", s.asset("style.css"), "", "", string(css)},
		{"only identity", s.asset("style.css"), "identity", "", string(css)},
		{"gzip refused", s.asset("style.css"), "gzip;q=0", "", string(css)},
		// Under 1 KiB the headers would outweigh the saving.
		{"small file", s.asset("favicon.svg"), "gzip", "", ""},
		{"small JSON", "/api/nowhere", "gzip", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := compressed(t, h, tt.target, tt.accept)
			if got := rec.Header().Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("GET %s (Accept-Encoding %q): Content-Encoding %q, want %q", tt.target, tt.accept, got, tt.wantEncoding)
			}
			if tt.want != "" && body != tt.want {
				t.Fatalf("GET %s: the decoded body differs from the original", tt.target)
			}
			if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s: Vary = %q, want Accept-Encoding (a cache must keep each encoding apart)", tt.target, rec.Header().Get("Vary"))
			}
			if tt.wantEncoding != "" && rec.Body.Len() >= len(body)*2/3 {
				t.Errorf("GET %s: %d bytes compressed from %d: not smaller by a third", tt.target, rec.Body.Len(), len(body))
			}
			checkSecurityHeaders(t, rec.Header())
		})
	}
}

func TestNotFoundIsAFriendlyPage(t *testing.T) {
	t.Parallel()
	_, h := newTestService(t, "")
	for _, path := range []string{"/no/such/page", "/favicon.ico", "/tickets/x/nothing"} {
		rec := get(t, h, path)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("GET %s = %d, want 404", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("GET %s Content-Type = %q, want HTML", path, ct)
		}
		if body := rec.Body.String(); !strings.Contains(body, "Page not found") || !strings.Contains(body, `href="/"`) {
			t.Fatalf("GET %s body lacks the friendly message: %s", path, body)
		}
		checkSecurityHeaders(t, rec.Header())
	}
}

func TestUnknownAPIPathIsJSON(t *testing.T) {
	t.Parallel()
	_, h := newTestService(t, "")
	rec := get(t, h, "/api/nowhere")
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Header().Get("Content-Type"), "json") ||
		!strings.Contains(rec.Body.String(), `"errors"`) {
		t.Fatalf("GET /api/nowhere = %d %q %s, want the API's JSON 404", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestAPIDownIsAFriendlyPage(t *testing.T) {
	t.Parallel()
	_, h := newTestService(t, "")
	for _, path := range []string{"/", "/tickets/abc", "/orders", "/auth/signin"} {
		rec := get(t, h, path)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("GET %s = %d, want 503", path, rec.Code)
		}
		body := rec.Body.String()
		if !strings.Contains(body, "not answering right now") || strings.Contains(body, `{"errors"`) {
			t.Fatalf("GET %s body = %s", path, body)
		}
		checkSecurityHeaders(t, rec.Header())
	}
}

func TestSignOutWorksWithTheAPIDown(t *testing.T) {
	t.Parallel()
	_, h := newTestService(t, "")
	tok := newCSRFToken()
	req := httptest.NewRequest(http.MethodPost, "/auth/signout", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "a.b.c"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("signout = %d, want 303", rec.Code)
	}
	cleared := false
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("session cookie not cleared: %v", rec.Header().Values("Set-Cookie"))
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	_, h := newTestService(t, "")
	good := newCSRFToken()
	other := newCSRFToken()
	tests := []struct {
		name          string
		cookie, field string
		origin        string
		want          int
	}{
		{name: "no cookie no field", want: http.StatusForbidden},
		{name: "field without cookie", field: good, want: http.StatusForbidden},
		{name: "cookie without field", cookie: good, want: http.StatusForbidden},
		{name: "mismatch", cookie: good, field: other, want: http.StatusForbidden},
		{name: "short tokens", cookie: "abc", field: "abc", want: http.StatusForbidden},
		{name: "cross-origin with matching tokens", cookie: good, field: good, origin: "https://evil.example", want: http.StatusForbidden},
		{name: "masked mismatch", cookie: good, field: maskCSRF(other), want: http.StatusForbidden},
		// Past the CSRF check the handler calls the API, which is down here.
		{name: "match", cookie: good, field: good, want: http.StatusServiceUnavailable},
		{name: "masked match", cookie: good, field: maskCSRF(good), want: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"email": {"a@example.com"}, "password": {"password1"}}
			if tt.field != "" {
				form.Set(csrfField, tt.field)
			}
			req := httptest.NewRequest(http.MethodPost, "/auth/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: csrfCookie, Value: tt.cookie})
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
				req.Header.Set("Sec-Fetch-Site", "cross-site")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			checkSecurityHeaders(t, rec.Header())
			if tt.want == http.StatusForbidden && !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("refusal is not an HTML page: %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestValidCSRF(t *testing.T) {
	t.Parallel()
	a, b := newCSRFToken(), newCSRFToken()
	if len(a) != csrfLen || a == b {
		t.Fatalf("tokens %q %q: want distinct %d-character tokens", a, b, csrfLen)
	}
	tests := []struct {
		cookie, field string
		want          bool
	}{
		{a, a, true},
		{a, b, false},
		{"", "", false},
		{a, "", false},
		{"", a, false},
		{a[:csrfLen-1], a[:csrfLen-1], false},
		{a, maskCSRF(a), true},
		{a, maskCSRF(b), false},
		{maskCSRF(a), maskCSRF(a), false},
		{a, tamper(maskCSRF(a)), false},
		{a, strings.Repeat("A", csrfMaskedLen), false},
	}
	// The same token is written differently in every page.
	if m1, m2 := maskCSRF(a), maskCSRF(a); m1 == m2 || len(m1) != csrfMaskedLen || strings.Contains(m1, a) {
		t.Errorf("maskCSRF(%q) = %q, then %q: want two different %d-character masks", a, m1, m2, csrfMaskedLen)
	}
	for _, tt := range tests {
		if got := validCSRF(tt.cookie, tt.field); got != tt.want {
			t.Errorf("validCSRF(%q, %q) = %v, want %v", tt.cookie, tt.field, got, tt.want)
		}
	}
}

// tamper changes one character in the middle of a token.
func tamper(tok string) string {
	c := byte('A')
	if tok[50] == c {
		c = 'B'
	}
	return tok[:50] + string(c) + tok[51:]
}

func TestCSRFCookieIsStrictAndHttpOnly(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	s.cfg.CookieSecure = true
	rec := httptest.NewRecorder()
	s.setCSRF(rec)
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != csrfCookie || !cs[0].HttpOnly || !cs[0].Secure ||
		cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/" {
		t.Fatalf("csrf cookie = %+v", cs)
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	tests := map[money.Cents]string{
		2050:        "$20.50",
		2000:        "$20.00",
		5:           "$0.05",
		0:           "$0.00",
		100000:      "$1,000.00",
		12345678:    "$123,456.78",
		100000000:   "$1,000,000.00",
		-150:        "-$1.50",
		99999999999: "$999,999,999.99",
	}
	for in, want := range tests {
		if got := formatMoney(in); got != want {
			t.Errorf("formatMoney(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestPriceInput(t *testing.T) {
	t.Parallel()
	const ambiguous, unreadable = "could separate thousands", "with a point or a comma before the cents"
	tests := []struct {
		in, want string
		problem  string // a part of the message; "" when accepted
	}{
		// No comma: as typed, for the API to judge.
		{"20.50", "20.50", ""},
		{" $ 7 ", "7", ""},
		{"abc", "abc", ""},
		{"", "", ""},
		{"1.234", "1.234", ""}, // the API refuses three decimals
		// A decimal comma.
		{"20,50", "20.50", ""},
		{"20,5", "20.5", ""},
		{"$20,50", "20.50", ""},
		{",50", ".50", ""},
		{"-3,50", "-3.50", ""}, // the API refuses a negative price itself
		// Thousands separators.
		{" $1,250.5 ", "1250.5", ""},
		{"1,234.50", "1234.50", ""},
		{"12,345,678.00", "12345678.00", ""},
		{"1,234,567", "1234567", ""},
		{"1.234,50", "1234.50", ""},
		{"1.234.567,5", "1234567.5", ""},
		// Ambiguous: a thousand, or one and a bit?
		{"1,234", "", ambiguous},
		{"$123,456", "", ambiguous},
		// Not a way anyone writes a price.
		{"20,505", "", ambiguous},
		{"1,23,456", "", unreadable},
		{"12,34.50", "", unreadable},
		{"1234,567.00", "", unreadable},
		{"1.234,567", "", unreadable},
		{"12.34,50", "", unreadable},
		{"20,50,1", "", unreadable},
		{"20,", "", unreadable},
		{",", "", unreadable},
		{"1 234,50", "", unreadable},
		{"20,5a", "", unreadable},
	}
	for _, tt := range tests {
		got, problem := priceInput(tt.in)
		if got != tt.want || (tt.problem == "") != (problem == "") || !strings.Contains(problem, tt.problem) {
			t.Errorf("priceInput(%q) = %q, %q; want %q with a problem saying %q", tt.in, got, problem, tt.want, tt.problem)
		}
	}
	if _, problem := priceInput("1,234"); !strings.Contains(problem, "Write 1234 or 1234.00") {
		t.Errorf("the ambiguous price's message does not say what to write: %q", problem)
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 5, 1, 14, 3, 9, 0, time.FixedZone("CEST", 2*3600))
	if got := isoTime(at); got != "2030-05-01T12:03:09Z" {
		t.Errorf("isoTime = %q", got)
	}
	if got := humanTime(at); got != "1 May 2030, 12:03 UTC" {
		t.Errorf("humanTime = %q", got)
	}
	clocks := map[time.Duration]string{
		15 * time.Minute:                        "15:00",
		14*time.Minute + 59*time.Second:         "14:59",
		1500 * time.Millisecond:                 "0:02",
		0:                                       "0:00",
		-time.Minute:                            "0:00",
		time.Hour + 2*time.Minute + time.Second: "1:02:01",
	}
	for d, want := range clocks {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStatusLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, by string
		expired    bool
		want       string
	}{
		{statusCreated, "", false, "Awaiting payment"},
		{statusCreated, "", true, "Expired"},
		{statusAwaitingPayment, "", false, "Awaiting payment"},
		{statusCancelled, "", false, "Cancelled"},
		{statusCancelled, "expiry", false, "Expired"},
		{statusCancelled, "buyer", false, "Cancelled by you"},
		{statusCancelled, "price_change", false, "Cancelled"},
		{statusComplete, "", false, "Complete"},
	}
	for _, tt := range tests {
		if got := statusLabel(tt.status, tt.by, tt.expired); got != tt.want {
			t.Errorf("statusLabel(%q, %q, %v) = %q, want %q", tt.status, tt.by, tt.expired, got, tt.want)
		}
	}
}

// My Orders says, beside each status, the moment that matters for it:
// never "Reserved until" for an order that is no longer reserved.
func TestOrdersPageSaysWhenPerStatus(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	o := order{ID: "o1", UserID: "u1", Status: statusCreated, ExpiresAt: fixedNow().Add(90 * time.Second)}
	o.Ticket.Title, o.Ticket.Price = "Gig", 2050
	at := func(o order, paid, cancelled time.Time) order { o.PaidAt, o.CancelledAt = paid, cancelled; return o }
	paidAt := fixedNow().Add(-time.Hour)
	endedAt := fixedNow().Add(-2 * time.Hour)
	stale := o
	stale.ExpiresAt = fixedNow().Add(-time.Minute)
	var never time.Time
	tests := []struct {
		name string
		o    order
		want string // the When cell, tags stripped
		pay  bool
	}{
		{"awaiting payment", o, "Reserved until 1 May 2030, 12:01 UTC · Pay now", true},
		{"awaiting payment past its expiry", stale, "Expired 1 May 2030, 11:59 UTC: not paid in time", false},
		{"paid", at(func() order { o := o; o.Status = statusComplete; return o }(), paidAt, never), "Paid 1 May 2030, 11:00 UTC", false},
		{"paid before the time was kept", func() order { o := o; o.Status = statusComplete; return o }(), "Paid", false},
		{"cancelled by the buyer", at(cancelled(o, "buyer", ""), never, endedAt), "Cancelled by you 1 May 2030, 10:00 UTC", false},
		{"expired", at(cancelled(o, "expiry", ""), never, endedAt), "Expired 1 May 2030, 12:01 UTC: not paid in time", false},
		{"expired, a late payment refunded", at(cancelled(o, "expiry", "p1"), never, endedAt),
			"Expired 1 May 2030, 12:01 UTC: not paid in time", false},
		{"price changed", at(cancelled(o, "price_change", ""), never, endedAt), "Cancelled 1 May 2030, 10:00 UTC: the seller changed the price first", false},
		{"refused after payment", at(cancelled(o, "not_available", "p1"), never, endedAt),
			"Cancelled 1 May 2030, 10:00 UTC: the ticket was no longer available; your payment is being refunded", false},
		{"cancelled before the reason was kept", cancelled(o, "", ""), "Cancelled", false},
	}
	cell := regexp.MustCompile(`(?s)<td class="order-when">(.*?)</td>`)
	tags := regexp.MustCompile(`<[^>]+>`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			v := view{User: &user{ID: "u1"}, Form: newForm(nil), Data: ordersData{Orders: []orderRow{s.row(tt.o)}}}
			s.render(rec, httptest.NewRequest(http.MethodGet, "/orders", nil), http.StatusOK, "orders", &v)
			m := cell.FindStringSubmatch(rec.Body.String())
			if m == nil {
				t.Fatalf("no When cell:\n%s", rec.Body)
			}
			got := strings.Join(strings.Fields(tags.ReplaceAllString(m[1], "")), " ")
			if got != tt.want {
				t.Errorf("When = %q, want %q", got, tt.want)
			}
			if strings.Contains(m[1], `href="/orders/o1"`) != tt.pay {
				t.Errorf("Pay now offered: %v, want %v", !tt.pay, tt.pay)
			}
		})
	}
}

// cancelled is o cancelled by by, with paymentID (a payment being
// refunded) if not "".
func cancelled(o order, by, paymentID string) order {
	o.Status, o.CancelledBy, o.PaymentID = statusCancelled, by, paymentID
	return o
}

// TestPaymentFlashes: after a payment only a complete order says the ticket
// is the buyer's.
func TestPaymentFlashes(t *testing.T) {
	t.Parallel()
	for m, want := range map[string]string{
		"paid":       "The ticket is yours!",
		"paying":     "will show as complete in a moment",
		"refunded":   "refunded in full",
		"processing": "being processed",
	} {
		got := flashText(m)
		if !strings.Contains(got, want) {
			t.Errorf("flash %s = %q, want it to say %q", m, got, want)
		}
		if m != "paid" && strings.Contains(got, "yours!") {
			t.Errorf("flash %s = %q claims the ticket", m, got)
		}
	}
}

// TestLocalPath is the table of known open-redirect bypasses: each must
// be refused (the caller then falls back to "/"), while paths of this site
// pass unchanged.
func TestLocalPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		next string
		want bool
	}{
		{"/", true},
		{"/tickets/1", true},
		{"/orders/abc", true},
		{"/ok?x=1", true},
		{"/?q=jazz&after=t1", true},
		{"/tickets/new#form", true},
		{"/tickets/%E2%9C%93", true}, // an encoded non-ASCII path is still this site's
		{"/caf\u00e9", true},

		{"", false},
		{"evil.example", false},   // relative
		{"tickets/1", false},      // relative
		{"./evil.example", false}, // relative
		{" /evil.example", false}, // leading space: browsers strip it
		{"//evil.example", false},
		{"///evil.example", false},
		{"////evil.example", false},
		{"/\\evil.example", false},
		{"\\/evil.example", false},
		{"\\\\evil.example", false},
		{"/\t/evil.example", false}, // /%09/ once decoded: browsers drop the tab
		{"/\n/evil.example", false},
		{"/\r/evil.example", false},
		{"/\x00/evil.example", false},
		{"/\x7f/evil.example", false},
		{"/\u0085/evil.example", false}, // C1 control
		{"/a\r\nSet-Cookie: x=1", false},
		{"/%09/evil.example", false}, // encoded twice in the query
		{"/%0a/evil.example", false},
		{"/%0d%0a/evil.example", false},
		{"/%2f/evil.example", false},
		{"/%2F%2Fevil.example", false},
		{"/%5c/evil.example", false},
		{"/%5C%5Cevil.example", false},
		{"https://evil.example", false},
		{"https://evil.example/ok", false},
		{"http:evil.example", false},
		{"http:/evil.example", false},
		{"HTTPS://evil.example", false},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"//user@evil.example", false},
		{"/%", false}, // does not parse
		{"/%zz", false},
	}
	for _, tt := range tests {
		if got := localPath(tt.next); got != tt.want {
			t.Errorf("localPath(%q) = %v, want %v", tt.next, got, tt.want)
		}
	}
}

func TestHumanize(t *testing.T) {
	t.Parallel()
	f := newForm(nil)
	f.addAPIError(&apiError{Status: 400, Errors: []fieldError{
		// Matched by code: the API may reword its messages.
		{Field: "email", Message: "That email is taken", Code: "email_in_use"},
		{Field: "password", Message: "Password must be between 8 and 128 characters", Code: "invalid"},
		{Message: "Wrong email or password", Code: "invalid_credentials"},
	}}, "email", "password")
	if !strings.Contains(f.Err("email"), "already exists") || !strings.HasSuffix(f.Err("password"), "characters.") {
		t.Fatalf("field errors = %v", f.Errors)
	}
	if len(f.General) != 1 || !strings.Contains(f.General[0], "do not match") {
		t.Fatalf("general = %v", f.General)
	}
	declines := []struct{ reason, want string }{
		{"Your card was declined.", "Your card was declined. Nothing was charged; try another card."},
		{"Your card has insufficient funds", "Your card has insufficient funds. Nothing was charged; try another card."},
		{"", "Your card was declined. Nothing was charged; try another card."},
	}
	for _, d := range declines {
		f = newForm(nil)
		f.addAPIError(&apiError{Status: 402, Errors: []fieldError{{Message: d.reason}}}, "token")
		if len(f.General) != 1 || f.General[0] != d.want {
			t.Errorf("402 %q = %q, want %q", d.reason, f.General, d.want)
		}
	}
	// Matched by code whatever the status: the API's wording here is not the
	// page's.
	coded := []struct {
		status int
		code   string
		want   string
	}{
		{429, "too_many_pending_orders", "You already hold the most unpaid orders allowed. Pay for or cancel one first."},
		{400, "ticket_reserved_locked", "This ticket is reserved by a buyer, so it cannot be changed right now."},
		{400, "over_resale_cap", "That price is above the organizer's resale cap for this event, the most one of its tickets may be resold for."},
		{409, "ticket_checked_in", "This ticket was already used at the door, so it cannot be resold."},
		{409, "event_not_scheduled", "The event was cancelled or has ended, so its tickets can no longer be resold."},
	}
	for _, c := range coded {
		f = newForm(nil)
		f.addAPIError(&apiError{Status: c.status, Errors: []fieldError{{Message: "Reworded by the API", Code: c.code}}})
		if len(f.General) != 1 || f.General[0] != c.want {
			t.Errorf("%d %s = %q, want %q", c.status, c.code, f.General, c.want)
		}
	}
	// A field the form does not show goes to the top, not lost.
	f = newForm(nil)
	f.addAPIError(&apiError{Status: 400, Errors: []fieldError{{Field: "ticketId", Message: "Ticket id is required"}}})
	if len(f.General) != 1 {
		t.Fatalf("unknown field lost: %v", f.General)
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	t.Parallel()
	if got := contentSecurityPolicy(false); got != strictCSP || strings.Contains(got, "stripe") {
		t.Fatalf("CSP without Stripe = %q", got)
	}
	got := contentSecurityPolicy(true)
	for _, want := range []string{"script-src 'self' https://js.stripe.com", "frame-src https://js.stripe.com", "connect-src 'self' https://api.stripe.com", "frame-ancestors 'none'"} {
		if !strings.Contains(got, want) {
			t.Errorf("CSP with Stripe = %q, lacks %q", got, want)
		}
	}
}

// findInline returns the first piece of inline code in an HTML page.
func findInline(body string) string {
	// Besides inline scripts: style elements or attributes, event handler
	// attributes, javascript: URLs.
	inlineCode := regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	scriptTag := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], " src=") || strings.TrimSpace(m[2]) != "" {
			return m[0]
		}
	}
	return inlineCode.FindString(body)
}

// TestPagesRender renders every page with representative data: the
// templates parse and execute, user text is escaped, nothing inline.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "")
	evil := `<script>alert("x")</script>`
	u := &user{ID: "u1", Email: "ann@example.com"}
	tk := ticket{ID: "t1", Title: evil, Price: 2050, UserID: "u2"}
	sold := ticket{ID: "t2", Title: evil, Price: 2050, UserID: "u2", OrderID: "o9", Status: "sold", SoldAt: fixedNow().Add(-time.Hour)}
	o := order{ID: "o1", UserID: "u1", Status: statusCreated, ExpiresAt: fixedNow().Add(90 * time.Second)}
	o.Ticket.ID, o.Ticket.Title, o.Ticket.Price = "t1", evil, 2050
	o.Fee, o.Total = 255, 2305 // 10% + $0.50
	failed := newForm(url.Values{"email": {evil}, "title": {evil}, "price": {"abc"}, "q": {evil}, "token": {"tok_chargeDeclined"}})
	failed.Errors["email"] = "Email must be valid."
	failed.Errors["price"] = "Price must be a number with at most two decimals."
	failed.General = []string{"Your card was declined. Nothing was charged; try another card."}

	tests := []struct {
		name  string
		page  string
		v     view
		wants []string // what the page holds; "!…": what it must not
	}{
		{"index signed out", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk}}},
			[]string{"Sign Up", "Sign In", "$20.50", `href="/tickets/t1"`}},
		{"index signed in, empty search", "index", view{User: u, CSRF: "tok", Form: newForm(url.Values{"q": {evil}}), Data: indexData{Q: evil}},
			[]string{"Sell Tickets", "My Listings", "My Orders", "Sign Out", "No tickets match", `name="csrf" value="tok"`}},
		{"index with a next page", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk}, More: "/?after=t1&q=a+b"}},
			[]string{`href="/?after=t1&amp;q=a&#43;b" rel="next">More tickets`}},
		{"index past the first page", "index", view{Form: newForm(nil), Data: indexData{Tickets: []ticket{tk}, First: "/"}},
			[]string{`href="/">Newest tickets`}},
		{"index sorted by price", "index", view{Form: newForm(url.Values{"sort": {"price_desc"}}), Data: indexData{Sort: "price_desc", Tickets: []ticket{tk}, First: "/?sort=price_desc"}},
			[]string{`<option value="price_desc" selected>Price: high to low`, `<option value="newest">`, `href="/?sort=price_desc">First page<`}},
		{"index page emptied meanwhile", "index", view{Form: newForm(nil), Data: indexData{First: "/?q=x"}},
			[]string{"No more tickets on this page", `href="/?q=x"`}},
		{"signup with errors", "auth", view{Form: failed, Data: authData{Action: "signup", Next: "/tickets/t1"}},
			[]string{"Email must be valid.", `aria-invalid="true"`, `name="next" value="/tickets/t1"`, `action="/auth/signup"`}},
		{"signin", "auth", view{Form: newForm(nil), Data: authData{Action: "signin"}}, []string{`action="/auth/signin"`, "current-password"}},
		{"signout", "signout", view{User: u, CSRF: "tok"}, []string{`action="/auth/signout"`, `name="everywhere" value="1"`, "Sign out everywhere"}},
		{"sell with errors", "ticket_form", view{User: u, Form: failed, Data: ticketFormData{}},
			[]string{"Price must be a number", `value="abc"`, `action="/tickets/new"`}},
		{"edit", "ticket_form", view{User: u, Form: newForm(url.Values{"title": {"x"}, "price": {"20.50"}}), Data: ticketFormData{Ticket: &ticket{ID: "t9"}}},
			[]string{`action="/tickets/t9/edit"`, `value="20.50"`}},
		{"ticket to buy", "ticket", view{User: u, CSRF: "tok", Data: ticketData{Ticket: tk}},
			[]string{"Purchase", `action="/tickets/t1/purchase"`}},
		{"ticket to buy shows price, fee and total", "ticket", view{User: u, Data: ticketData{Ticket: tk, Fee: 255, Total: 2305}},
			[]string{`id="service-fee">$2.55<`, `id="total"><strong>$23.05</strong>`, "while you pay $23.05", `action="/tickets/t1/purchase"`}},
		{"ticket signed out", "ticket", view{Data: ticketData{Ticket: tk}}, []string{"Sign in to purchase", "next=/tickets/t1"}},
		{"own ticket", "ticket", view{User: u, Data: ticketData{Ticket: tk, Mine: true}}, []string{"You are selling this ticket", "/tickets/t1/edit"}},
		{"reserved ticket", "ticket", view{User: u, Data: ticketData{Ticket: tk, Reserved: true}}, []string{"Someone is buying this ticket"}},
		{"ticket the caller reserved", "ticket", view{User: u, Data: ticketData{Ticket: tk, Reserved: true, MyOrderID: "o7"}},
			[]string{"You reserved this ticket", `href="/orders/o7"`, "pay now"}},
		{"sold ticket", "ticket", view{User: u, Data: ticketData{Ticket: sold, Gone: true}}, []string{"This ticket is no longer available"}},
		{"sold ticket to its seller", "ticket", view{User: u, Data: ticketData{Ticket: sold, Mine: true, Gone: true}},
			[]string{"You sold this ticket", `<time datetime="2030-05-01T11:00:00Z">`, "$20.50"}},
		{"listings with a sale and a withdrawal", "listings", view{User: u, CSRF: "tok", Data: listingsData{Tickets: []ticket{tk, sold, {ID: "t3", Title: "C", Price: 100, Status: "withdrawn"}}}},
			[]string{"Sold", `<time datetime="2030-05-01T11:00:00Z">`, "Withdrawn", `action="/tickets/t1/withdraw"`, "Yes, withdraw", `name="csrf" value="tok"`}},
		{"order cancelled, ticket back on sale", "order", view{User: u, CSRF: "tok", Data: orderData{Order: s.row(cancelled(o, "buyer", "")), TicketStatus: "on_sale", TryAgain: true}},
			[]string{"Cancelled by you", "Try to buy again", `action="/tickets/t1/purchase"`}},
		{"order expired, ticket back on sale, the buyer's pause holding", "order", view{User: u, CSRF: "tok", Data: orderData{Order: s.row(cancelled(o, "expiry", "")), TicketStatus: "on_sale", TryAgainAt: fixedNow().Add(10 * time.Minute)}},
			[]string{"Expired", "back on sale", `You can try again at <time datetime="2030-05-01T12:10:00Z">1 May 2030, 12:10 UTC</time>`, "!Try to buy again", "!/purchase"}},
		{"order expired, ticket back on sale, the pause over", "order", view{User: u, CSRF: "tok", Data: orderData{Order: s.row(cancelled(o, "expiry", "")), TicketStatus: "on_sale", TryAgain: true}},
			[]string{"Expired", "back on sale", "Try to buy again", `action="/tickets/t1/purchase"`, "!You can try again at"}},
		{"order expired, ticket sold since", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "expiry", "")), TicketStatus: "sold"}},
			[]string{"Expired", "The ticket is no longer available"}},
		{"listings", "listings", view{User: u, Data: listingsData{Tickets: []ticket{tk, {ID: "t2", Title: "B", Price: 100, OrderID: "o"}}}},
			[]string{"On sale", "Reserved", "/tickets/t1/edit"}},
		{"orders", "orders", view{User: u, Data: ordersData{Orders: []orderRow{s.row(o), {order: order{ID: "o2", Status: statusComplete}, Label: "Complete"}}}},
			[]string{"Awaiting payment", "Complete", `<time datetime="2030-05-01T12:01:30Z">`}},
		{"order to pay", "order", view{User: u, CSRF: "tok", Form: failed, Data: orderData{Order: s.row(o), Payable: true, Left: "1:30", ServerAt: isoTime(fixedNow()), Cards: sandboxCards()}},
			[]string{"no money moves", "tok_visa", "tok_chargeDeclined", "payment succeeds", "card is declined", `id="countdown"`, ">1:30<",
				`data-expires="2030-05-01T12:01:30Z"`, "Order expired", "Pay $23.05", `id="service-fee">$2.55<`, `id="total"><strong>$23.05</strong>`, "Cancel order", `value="tok_chargeDeclined" checked`, "declined"}},
		{"order of an event's ticket, its event cancelled after payment", "order", view{User: u, Data: orderData{Order: s.row(func() order {
			o := o
			o.Status, o.Notice, o.Ticket.EventID = statusComplete, "Event cancelled — refund pending", "e1"
			return o
		}())}}, []string{`id="order-notice"`, "Event cancelled — refund pending", `href="/events/e1"`}},
		{"orders with a notice", "orders", view{User: u, Data: ordersData{Orders: []orderRow{s.row(func() order {
			o := o
			o.Status, o.Notice = statusComplete, "Event cancelled — refund pending"
			return o
		}())}}}, []string{`<strong class="order-notice">Event cancelled — refund pending</strong>`}},
		{"order of a cancelled event, refunded", "order", view{User: u, Data: orderData{Order: s.row(func() order {
			o := o
			o.Status, o.Notice, o.Refund, o.Ticket.EventID = statusComplete, "Event cancelled — refunded $23.05", "refunded", "e1"
			return o
		}())}}, []string{`id="order-notice"`, "Event cancelled — refunded $23.05", "Refunded", "!The ticket is yours"}},
		{"orders with a refunded one", "orders", view{User: u, Data: ordersData{Orders: []orderRow{s.row(func() order {
			o := o
			o.Status, o.Notice, o.Refund = statusComplete, "Event cancelled — refunded $23.05", "refunded"
			return o
		}())}}}, []string{`<strong class="order-notice">Event cancelled — refunded $23.05</strong>`, ">Refunded<"}},
		{"order expired", "order", view{User: u, Data: orderData{Order: orderRow{order: o, Label: "Expired", Expired: true}}}, []string{"Order expired"}},
		{"order cancelled by the buyer", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "buyer", ""))}}, []string{"Cancelled by you"}},
		{"order expired and cancelled", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "expiry", ""))}}, []string{"Expired: the reservation ran out"}},
		{"order paid after it expired", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "expiry", "p1"))}},
			[]string{"Expired: the reservation ran out", "Your payment of $23.05 is being refunded in full"}},
		{"order paid after it expired, refunded", "order", view{User: u, Data: orderData{Order: s.row(func() order {
			o := cancelled(o, "expiry", "p1")
			o.Refund = "refunded"
			return o
		}())}}, []string{"Expired: the reservation ran out", "Your payment of $23.05 was refunded in full", "!>Refunded<"}},
		{"order refused for a price change", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "price_change", ""))}},
			[]string{"The seller changed the price before your reservation went through", "Nothing was charged"}},
		{"order refused after it was paid", "order", view{User: u, Data: orderData{Order: s.row(cancelled(o, "price_change", "p1"))}},
			[]string{"The seller changed the price", "is being refunded in full"}},
		{"error", "error", view{Bare: true, Data: errorData{Status: 404, Heading: "Page not found", Message: "gone"}}, []string{"Error 404", "Page not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Title = evil
			if v.Form == nil {
				v.Form = newForm(nil)
			}
			rec := httptest.NewRecorder()
			s.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, tt.page, &v)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			for _, want := range tt.wants {
				// A want starting "!" is what the page must not hold.
				if no, ok := strings.CutPrefix(want, "!"); ok {
					if strings.Contains(body, no) {
						t.Errorf("page has %q", no)
					}
				} else if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(body, evil) {
				t.Errorf("user text not escaped")
			}
			if m := findInline(body); m != "" {
				t.Errorf("page holds inline code a strict CSP blocks: %q", m)
			}
			if !strings.Contains(body, `<script src="`+s.asset("app.js")+`"`) || !strings.Contains(body, `<html lang="en">`) {
				t.Errorf("layout missing")
			}
			if strings.Contains(body, "stripe.com") || strings.Contains(body, "https://") {
				t.Errorf("page loads something from another origin")
			}
		})
	}
}

// TestStripeOrderPage: with a publishable key the order page loads
// Stripe.js (and only then), and the CSP allows exactly that.
func TestStripeOrderPage(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, "pk_test_123")
	o := order{ID: "o1", Status: statusCreated, ExpiresAt: fixedNow().Add(time.Minute)}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/orders/o1", nil)
	v := &view{User: &user{ID: "u1"}, CSRF: "tok", Stripe: "pk_test_123",
		Scripts: []string{s.asset("countdown.js"), "https://js.stripe.com/v3/", s.asset("stripe.js")},
		Data:    orderData{Order: s.row(o), Payable: true, Left: "1:00", Cards: sandboxCards()}}
	s.render(rec, req, http.StatusOK, "order", v)
	body := rec.Body.String()
	for _, want := range []string{`<script src="https://js.stripe.com/v3/" defer>`, `data-stripe-key="pk_test_123"`, `id="card-element"`} {
		if !strings.Contains(body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
	if strings.Contains(body, "tok_chargeDeclined") {
		t.Errorf("the sandbox cards are offered with Stripe on")
	}
	if !strings.Contains(s.csp, "https://js.stripe.com") {
		t.Errorf("CSP = %q", s.csp)
	}
}

// The API calls name one client address, found with the trusted-proxy rule:
// the API then counts browsers, not the web server or a proxy, and a
// browser's own X-Forwarded-For cannot make it someone else.
func TestAPICallNamesTheClientAddress(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- strings.Join(r.Header.Values("X-Forwarded-For"), " | ")
		io.WriteString(w, `{"currentUser":null}`)
	}))
	defer api.Close()
	trusted, err := httpapi.ParsePrefixes("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(api.URL)
	c := newAPIClient(base, nil, trusted)
	tests := []struct{ name, peer, xff, want string }{
		{"a browser", "192.0.2.1:5555", "", "192.0.2.1"},
		{"a browser claiming another address", "192.0.2.1:5555", "203.0.113.9", "192.0.2.1"},
		{"a browser behind a trusted proxy", "10.0.0.5:5555", "203.0.113.9", "203.0.113.9"},
		{"through two trusted proxies, after a forged hop", "10.0.0.5:5555", "6.6.6.6, 203.0.113.9, 10.0.0.7", "203.0.113.9"},
		{"an IPv6 browser", "[2001:db8::1]:5555", "203.0.113.9", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if _, err := c.CurrentUser(r); err != nil {
				t.Fatal(err)
			}
			if got := <-seen; got != tt.want {
				t.Errorf("the API saw X-Forwarded-For %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRetryAt: a refused reservation that names when it can succeed
// (Retry-After, seconds) is told to the buyer as a time; anything else
// says nothing.
func TestRetryAt(t *testing.T) {
	t.Parallel()
	now := fixedNow()
	tests := []struct {
		name string
		err  error
		want time.Time
	}{
		{"seconds", &apiError{Status: 429, RetryAfter: "900"}, now.Add(15 * time.Minute)},
		{"none", &apiError{Status: 429}, time.Time{}},
		{"an HTTP date (not sent by the API)", &apiError{Status: 429, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"}, time.Time{}},
		{"zero", &apiError{Status: 429, RetryAfter: "0"}, time.Time{}},
		{"not an API answer", errUnavailable, time.Time{}},
	}
	for _, tt := range tests {
		if got := retryAt(tt.err, now); !got.Equal(tt.want) {
			t.Errorf("%s: retryAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}

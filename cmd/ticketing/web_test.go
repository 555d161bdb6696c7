package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// These are the web client's page tests: real HTTP against the real `up`
// (every service, embedded NATS, SQLite), with a client that behaves like a
// browser without JavaScript — a cookie jar, forms posted with the CSRF
// token found on the page, redirects looked at rather than followed blindly.

const webStrictCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// webBrowser is a person's browser with JavaScript off.
type webBrowser struct {
	t    *testing.T
	base string
	http *http.Client
	// last is the body of the last page fetched: forms take their CSRF
	// token from it, as a real form would carry it.
	last string
}

func newWebBrowser(t *testing.T, base string) *webBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &webBrowser{t: t, base: base, http: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// webPage is one answer.
type webPage struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *webBrowser) send(req *http.Request) webPage {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := webPage{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw), header: resp.Header}
	if !strings.HasPrefix(req.URL.Path, "/api/") {
		webCheckHeaders(b.t, req.Method+" "+req.URL.Path, resp.Header)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		b.last = p.body
	}
	return p
}

// get fetches a page without following a redirect.
func (b *webBrowser) get(path string) webPage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.send(req)
}

// open fetches a page and follows redirects to the end, as a browser does.
func (b *webBrowser) open(path string) webPage {
	b.t.Helper()
	p := b.get(path)
	for i := 0; p.status == http.StatusSeeOther || p.status == http.StatusFound; i++ {
		if i > 5 {
			b.t.Fatalf("GET %s: too many redirects", path)
		}
		p = b.get(p.location)
	}
	return p
}

// post submits a form with the CSRF token of the last page, as the form on
// that page would.
func (b *webBrowser) post(path string, form url.Values) webPage {
	b.t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("POST %s: the last page has no CSRF token:\n%s", path, b.last)
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

func webCheckHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != webStrictCSP {
		t.Errorf("%s: Content-Security-Policy = %q", what, got)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("%s: nosniff/Referrer-Policy missing: %v", what, h)
	}
}

// webWant fails unless the page has the status and holds every string.
func webWant(t *testing.T, what string, p webPage, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s = %d (Location %q), want %d:\n%s", what, p.status, p.location, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s lacks %q:\n%s", what, s, p.body)
		}
	}
}

// webRedirect fails unless the answer is a 303 to a path starting with
// prefix, and returns the location.
func webRedirect(t *testing.T, what string, p webPage, prefix string) string {
	t.Helper()
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, prefix) {
		t.Fatalf("%s = %d to %q, want 303 to %s…:\n%s", what, p.status, p.location, prefix, p.body)
	}
	return p.location
}

// follow checks that a form's answer is a 303 to a path starting with
// prefix and opens it, as a browser does: every form is answered with a
// redirect, and what it did is told on the page it leads to.
func (b *webBrowser) follow(what string, p webPage, prefix string) webPage {
	b.t.Helper()
	return b.open(webRedirect(b.t, what, p, prefix))
}

// webSignUp makes a new browser signed in as email.
func webSignUp(t *testing.T, base, email string) *webBrowser {
	t.Helper()
	b := newWebBrowser(t, base)
	b.get("/auth/signup")
	webRedirect(t, "sign up "+email, b.post("/auth/signup", url.Values{"email": {email}, "password": {"correct horse"}}), "/")
	return b
}

// webSell lists a ticket and returns its id.
func webSell(t *testing.T, b *webBrowser, title, price string) string {
	t.Helper()
	b.get("/tickets/new")
	loc := webRedirect(t, "sell "+title, b.post("/tickets/new", url.Values{"title": {title}, "price": {price}}), "/tickets/")
	u, _ := url.Parse(loc)
	return strings.TrimPrefix(u.Path, "/tickets/")
}

func TestWebAuthPages(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := newWebBrowser(t, base)

	p := b.get("/")
	webWant(t, "index signed out", p, http.StatusOK, `href="/auth/signup"`, `href="/auth/signin"`, "Tickets for sale")
	if strings.Contains(p.body, "Sign Out") {
		t.Fatal("signed-out header shows Sign Out")
	}

	webWant(t, "sign-up page", b.get("/auth/signup"), http.StatusOK, `<label for="email">`, `<label for="password">`, `action="/auth/signup"`)
	p = b.follow("bad sign up", b.post("/auth/signup", url.Values{"email": {"not-an-email"}, "password": {"short"}}), "/auth/signup")
	webWant(t, "bad sign up", p, http.StatusOK, `id="email-error"`, `id="password-error"`, `value="not-an-email"`, `aria-invalid="true"`)
	if strings.Contains(p.body, `value="short"`) {
		t.Fatal("the password was written back into the page")
	}
	// The error says what the hint says: the page shows one of them.
	if n := strings.Count(p.body, "128 characters"); n != 1 || strings.Contains(p.body, `id="password-hint"`) {
		t.Fatalf("the password's hint and error both show (%d times \"128 characters\"):\n%s", n, p.body)
	}
	// What the failed form left is shown once: a reload shows the empty form.
	p = b.get("/auth/signup")
	webWant(t, "sign-up page reloaded", p, http.StatusOK, `id="password-hint"`)
	if strings.Contains(p.body, "not-an-email") || strings.Contains(p.body, `id="email-error"`) {
		t.Fatalf("a reload shows the failed form again:\n%s", p.body)
	}

	p = b.post("/auth/signup", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}})
	webRedirect(t, "sign up", p, "/")
	if !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), "session=") {
		t.Fatalf("sign up passed no session cookie: %v", p.header.Values("Set-Cookie"))
	}
	webWant(t, "index signed in", b.open(p.location), http.StatusOK, "Sell Tickets", "My Listings", "My Orders", "Sign Out", "ann@example.com", "Welcome")
	if p := b.get("/"); strings.Contains(p.body, "Welcome") {
		t.Fatal("a reload repeats the welcome")
	}
	webRedirect(t, "sign-up page when signed in", b.get("/auth/signup"), "/")

	other := newWebBrowser(t, base)
	other.get("/auth/signup")
	webWant(t, "email in use", other.follow("email in use", other.post("/auth/signup", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}}), "/auth/signup"),
		http.StatusOK, "already exists", `value="ann@example.com"`)

	b.get("/")
	p = b.post("/auth/signout", url.Values{})
	webRedirect(t, "sign out", p, "/")
	p = b.open(p.location)
	webWant(t, "index after sign out", p, http.StatusOK, "Sign In", "You are signed out")
	webWant(t, "sign-out page signed out", b.get("/auth/signout"), http.StatusSeeOther)

	b.get("/auth/signin?next=/tickets/new")
	webWant(t, "wrong password", b.follow("wrong password", b.post("/auth/signin", url.Values{"email": {"ann@example.com"}, "password": {"wrong horse"}, "next": {"/tickets/new"}}), "/auth/signin?next="),
		http.StatusOK, "do not match", `value="ann@example.com"`, `name="next" value="/tickets/new"`)
	webRedirect(t, "sign in with next", b.post("/auth/signin", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}, "next": {"/tickets/new"}}), "/tickets/new")
	webWant(t, "sign-out page", b.get("/auth/signout"), http.StatusOK, `action="/auth/signout"`)

	// A redirect target off this site is ignored.
	c := newWebBrowser(t, base)
	c.get("/auth/signin")
	webRedirect(t, "sign in with foreign next", c.post("/auth/signin", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}, "next": {"//evil.example/"}}), "/")
}

// TestWebFlashIsOneTime: a confirmation comes from the form that asked for
// it, never from the URL, and shows once.
func TestWebFlashIsOneTime(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	anon := newWebBrowser(t, base)
	for _, m := range []string{"welcome", "paid", "signedin"} {
		p := anon.get("/?m=" + m)
		webWant(t, "index with ?m="+m, p, http.StatusOK)
		if strings.Contains(p.body, `class="flash"`) {
			t.Fatalf("a link showed a message:\n%s", p.body)
		}
	}
	b := newWebBrowser(t, base)
	b.get("/auth/signup")
	p := b.post("/auth/signup", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}})
	if loc := webRedirect(t, "sign up", p, "/"); loc != "/" {
		t.Fatalf("sign up redirects to %q, want /: the message is no part of the URL", loc)
	}
	// Another page does not take it: it is for the one redirected to.
	if p := b.get("/orders"); strings.Contains(p.body, "Welcome") {
		t.Fatal("another page showed the welcome")
	}
	webWant(t, "index after sign up", b.get("/"), http.StatusOK, "Welcome! Your account is ready.")
	if p := b.get("/"); strings.Contains(p.body, "Welcome") {
		t.Fatal("the welcome repeats")
	}
}

func TestWebSignedOutPagesAskToSignIn(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := newWebBrowser(t, base)
	for _, path := range []string{"/tickets/new", "/orders", "/listings", "/orders/some-order"} {
		webRedirect(t, "GET "+path, b.get(path), "/auth/signin?next="+url.QueryEscape(path))
	}
}

func TestWebSellEditAndListings(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := webSignUp(t, base, "seller@example.com")

	webWant(t, "sell page", seller.get("/tickets/new"), http.StatusOK, `<label for="title">`, `<label for="price">`)
	p := seller.follow("empty sell form", seller.post("/tickets/new", url.Values{"title": {"  "}, "price": {""}}), "/tickets/new")
	webWant(t, "empty sell form", p, http.StatusOK, `id="title-error"`, "Title is required", `id="price-error"`, "Price is required")
	p = seller.follow("bad price", seller.post("/tickets/new", url.Values{"title": {"Gig"}, "price": {"twenty"}}), "/tickets/new")
	webWant(t, "bad price", p, http.StatusOK, `id="price-error"`, `value="twenty"`, `value="Gig"`)
	if strings.Contains(p.body, `id="title-error"`) {
		t.Fatal("a good title got an error")
	}

	evil := `<b>Gig</b> & "friends"`
	id := webSell(t, seller, evil, "$1,250.5")
	p = seller.open("/tickets/" + id)
	webWant(t, "own ticket", p, http.StatusOK, "$1,250.50", html.EscapeString(evil), "You are selling this ticket", "/tickets/"+id+"/edit", "Your ticket is on sale")
	if strings.Contains(p.body, evil) || strings.Contains(p.body, "Purchase</button>") {
		t.Fatal("title not escaped, or the seller is offered to buy their own ticket")
	}

	webWant(t, "listings", seller.get("/listings"), http.StatusOK, html.EscapeString(evil), "On sale", "$1,250.50")
	webWant(t, "edit page", seller.get("/tickets/"+id+"/edit"), http.StatusOK, `value="1250.50"`, `action="/tickets/`+id+`/edit"`)
	webWant(t, "bad edit", seller.follow("bad edit", seller.post("/tickets/"+id+"/edit", url.Values{"title": {"Gig"}, "price": {"-3"}}), "/tickets/"+id+"/edit"),
		http.StatusOK, "Price must be greater than 0", `value="-3"`)
	webWant(t, "listings after edit", seller.follow("edit", seller.post("/tickets/"+id+"/edit", url.Values{"title": {"Gig, row F"}, "price": {"99"}}), "/listings"),
		http.StatusOK, "Gig, row F", "$99.00", "Your listing was updated")

	// The index and its search.
	webSell(t, seller, "Opera night", "45")
	anon := newWebBrowser(t, base)
	webWant(t, "index", anon.get("/"), http.StatusOK, "Gig, row F", "Opera night", "$45.00")
	p = anon.get("/?q=OPERA")
	webWant(t, "search", p, http.StatusOK, "Opera night", `value="OPERA"`)
	if strings.Contains(p.body, "Gig, row F") {
		t.Fatal("search shows a ticket that does not match")
	}
	webWant(t, "search without match", anon.get("/?q=jazz"), http.StatusOK, "No tickets match", "jazz")

	// Someone else cannot edit it.
	other := webSignUp(t, base, "other@example.com")
	webWant(t, "someone else's edit page", other.get("/tickets/"+id+"/edit"), http.StatusForbidden, "Only the seller")
	other.get("/")
	webWant(t, "someone else's edit", other.follow("someone else's edit", other.post("/tickets/"+id+"/edit", url.Values{"title": {"Mine now"}, "price": {"1"}}), "/tickets/"+id+"/edit"), http.StatusForbidden)
	webWant(t, "their empty listings", other.get("/listings"), http.StatusOK, "not selling any tickets")
}

func TestWebPurchasePayAndCancel(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := webSignUp(t, base, "seller@example.com")
	gig := webSell(t, seller, "Gig", "20.50")
	opera := webSell(t, seller, "Opera", "45")
	buyer := webSignUp(t, base, "buyer@example.com")

	// The default fee, 10% + $0.50, shown before reserving.
	webWant(t, "ticket page", buyer.get("/tickets/"+gig), http.StatusOK, "Gig", "$20.50", `id="service-fee">$2.55<`, `id="total"><strong>$23.05</strong>`, "Purchase")
	loc := webRedirect(t, "purchase", buyer.post("/tickets/"+gig+"/purchase", url.Values{}), "/orders/")
	orderID := strings.TrimPrefix(loc, "/orders/")

	p := buyer.get(loc)
	webWant(t, "order page", p, http.StatusOK, "Gig", `id="countdown"`, `src="/static/countdown.`, "no money moves",
		"tok_visa", "tok_chargeDeclined", "Pay $23.05", `id="service-fee">$2.55<`, "Cancel order", "Awaiting payment")
	// Cancelling is confirmed, apart from Pay, without a script: the
	// cancel form sits inside a closed disclosure.
	cancel := regexp.MustCompile(`(?s)<details class="cancel-order"[^>]*>\s*<summary>Cancel order</summary>.*?<form method="post" action="/orders/[^"]+/cancel".*?Yes, cancel this order.*?</form>\s*</details>`)
	if !cancel.MatchString(p.body) || strings.Contains(p.body, "<details open") {
		t.Fatalf("the cancel form is not behind a closed confirmation:\n%s", p.body)
	}

	// Someone else sees neither the order nor a Purchase button.
	third := webSignUp(t, base, "third@example.com")
	webWant(t, "someone else's order", third.get(loc), http.StatusNotFound, "Page not found")
	natsbustest.Eventually(t, 10*time.Second, "the ticket shows as reserved", func() bool {
		return strings.Contains(third.get("/tickets/"+gig).body, "Someone is buying this ticket")
	})
	third.get("/tickets/" + opera)
	webWant(t, "purchase a reserved ticket", third.follow("purchase a reserved ticket", third.post("/tickets/"+gig+"/purchase", url.Values{}), "/tickets/"+gig),
		http.StatusOK, "Someone else is buying")

	buyer.get(loc)
	p = buyer.follow("declined card", buyer.post(loc+"/pay", url.Values{"token": {"tok_chargeDeclined"}}), loc)
	webWant(t, "declined card", p, http.StatusOK, "declined", "Pay $23.05")
	if regexp.MustCompile(`value="tok_\w+" checked`).MatchString(p.body) {
		t.Fatalf("after a decline a card is still chosen:\n%s", p.body)
	}
	webWant(t, "no card", buyer.follow("no card", buyer.post(loc+"/pay", url.Values{}), loc), http.StatusOK, "Choose a card")
	page := buyer.get(loc) // the order page, as it stays in the browser's history
	webRedirect(t, "pay", buyer.post(loc+"/pay", url.Values{"token": {"tok_visa"}}), "/orders")
	webWant(t, "orders after paying", buyer.open("/orders"), http.StatusOK, "Payment received")
	// The same form sent again (a second click, or the old page's form):
	// it lands where the first did, not on an error.
	buyer.last = page.body
	p = buyer.post(loc+"/pay", url.Values{"token": {"tok_visa"}})
	if p.status != http.StatusSeeOther || p.location != "/orders" {
		t.Fatalf("paying again = %d to %q, want 303 to /orders as the first time", p.status, p.location)
	}
	p = buyer.open(p.location)
	webWant(t, "orders after paying again", p, http.StatusOK, "Payment received")
	if strings.Contains(p.body, `id="form-errors"`) {
		t.Fatalf("paying again shows an error:\n%s", p.body)
	}
	natsbustest.Eventually(t, 10*time.Second, "the order is complete on My Orders", func() bool {
		p := buyer.get("/orders")
		return strings.Contains(p.body, `data-status="complete"`) && strings.Contains(p.body, "/orders/"+orderID)
	})
	webWant(t, "paid order page", buyer.get(loc), http.StatusOK, "Complete", "The ticket is yours")
	if p := buyer.get("/"); strings.Contains(p.body, "/tickets/"+gig) {
		t.Fatal("a sold ticket is still on the index")
	}

	// Reserve the other ticket and cancel: it is back on sale.
	buyer.get("/tickets/" + opera)
	loc = webRedirect(t, "purchase opera", buyer.post("/tickets/"+opera+"/purchase", url.Values{}), "/orders/")
	buyer.get(loc)
	webWant(t, "orders after cancel", buyer.follow("cancel", buyer.post(loc+"/cancel", url.Values{}), "/orders"),
		http.StatusOK, "Cancelled", "Complete", "Order cancelled")
	natsbustest.Eventually(t, 10*time.Second, "the cancelled ticket is back on the index", func() bool {
		return strings.Contains(buyer.get("/").body, "/tickets/"+opera)
	})
	webWant(t, "cancelled order page", buyer.get(loc), http.StatusOK, "Cancelled by you")
	buyer.get("/tickets/" + opera)
	webWant(t, "purchase again after cancelling",
		buyer.follow("purchase again after cancelling", buyer.post("/tickets/"+opera+"/purchase", url.Values{}), "/tickets/"+opera),
		http.StatusOK, "you can reserve it again in 15 minutes")

	// My listings shows the seller which are sold or reserved.
	natsbustest.Eventually(t, 10*time.Second, "the seller's listings show the sale", func() bool {
		p := seller.get("/listings")
		return strings.Contains(p.body, ">Sold<") && strings.Contains(p.body, "On sale")
	})
}

func TestWebErrorsAndHeaders(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := webSignUp(t, base, "ann@example.com")
	for _, path := range []string{"/no/such/page", "/tickets/no-such-ticket", "/orders/no-such-order", "/tickets/no-such-ticket/edit"} {
		p := b.get(path)
		webWant(t, "GET "+path, p, http.StatusNotFound, "Page not found", "Sign Out")
		if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s is not HTML: %q", path, p.header.Get("Content-Type"))
		}
	}
	// The API keeps answering JSON.
	p := b.get("/api/nowhere")
	if p.status != http.StatusNotFound || !strings.Contains(p.header.Get("Content-Type"), "json") {
		t.Fatalf("GET /api/nowhere = %d %q, want JSON 404", p.status, p.header.Get("Content-Type"))
	}

	// A form without its token is refused, and nothing happens.
	req, _ := http.NewRequest(http.MethodPost, base+"/tickets/new", strings.NewReader("title=Forged&price=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	webWant(t, "form without CSRF token", b.send(req), http.StatusForbidden, "This form has expired")
	// A form from another site is refused by the gateway before it gets here.
	b.get("/tickets/new")
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(b.last)[1]
	req, _ = http.NewRequest(http.MethodPost, base+"/tickets/new", strings.NewReader("title=Forged&price=1&csrf="+url.QueryEscape(tok)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site form = %d, want 403", resp.StatusCode)
	}
	if p := b.get("/listings"); strings.Contains(p.body, "Forged") {
		t.Fatal("a forged form listed a ticket")
	}

	webWant(t, "stylesheet", b.open("/static/style.css"), http.StatusOK, "--primary")
}

// TestWebIndexPages: the index shows a page of tickets at a time, newest
// first, with a link to the next page that keeps the search.
func TestWebIndexPages(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := signUp(t, base, "seller@example.com")
	sell := func(title string) {
		if got := seller.do("POST", "/api/tickets", map[string]any{"title": title, "price": 5}, nil); got != http.StatusCreated {
			t.Fatalf("sell %s = %d", title, got)
		}
	}
	for i := range 26 { // a page and two
		sell(fmt.Sprintf("Show %02d", i))
	}
	sell("Jazz night")

	anon := newWebBrowser(t, base)
	p := anon.get("/?q=show")
	webWant(t, "first page", p, http.StatusOK, "Show 25", "Show 02", ">More tickets<")
	if strings.Contains(p.body, "Show 01<") || strings.Contains(p.body, "Jazz night") || strings.Contains(p.body, "Newest tickets") {
		t.Fatalf("first page holds more than its 24 matches, or a link back:\n%s", p.body)
	}
	more := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.body)
	if more == nil {
		t.Fatal("no next-page link")
	}
	p = anon.get(html.UnescapeString(more[1]))
	webWant(t, "second page", p, http.StatusOK, "Show 01", "Show 00", `href="/?q=show">Newest tickets<`)
	if strings.Contains(p.body, "Show 02<") || strings.Contains(p.body, "More tickets") || strings.Contains(p.body, "Jazz night") {
		t.Fatalf("second page repeats the first, lost the search, or offers a third:\n%s", p.body)
	}
	p = anon.get("/")
	webWant(t, "index", p, http.StatusOK, "Jazz night", ">More tickets<")
	if strings.Contains(p.body, "Show 02<") {
		t.Fatal("the unfiltered first page holds more than 24 tickets")
	}
}

// TestWebPaymentAfterExpiryIsRefunded: a payment whose charge completes
// only after the expiry has cancelled the order is refunded, and the page
// says so; it never says the ticket is the buyer's.
func TestWebPaymentAfterExpiryIsRefunded(t *testing.T) {
	t.Parallel()
	held := heldProvider{Provider: payments.NewSandbox(), charging: make(chan struct{}, 1), release: make(chan struct{})}
	base, _ := startUpConfig(t, t.TempDir(), map[string]string{"EXPIRATION_WINDOW": "3s"}, func(c *Config) { c.provider = held })
	seller := webSignUp(t, base, "seller@example.com")
	gig := webSell(t, seller, "Gig", "20.50")
	buyer := webSignUp(t, base, "buyer@example.com")
	api := newClient(t, base)
	if got := api.do("POST", "/api/users/signin", map[string]string{"email": "buyer@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin = %d", got)
	}

	buyer.get("/tickets/" + gig)
	loc := webRedirect(t, "purchase", buyer.post("/tickets/"+gig+"/purchase", url.Values{}), "/orders/")
	orderID := strings.TrimPrefix(loc, "/orders/")
	natsbustest.Eventually(t, 5*time.Second, "payments knows the order", func() bool {
		return api.do("POST", "/api/payments", map[string]string{"orderId": orderID, "token": "tok_fake"}, nil) != http.StatusNotFound
	})

	// Pay on the page; the charge is held until the expiry has cancelled
	// the order.
	buyer.get(loc)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(buyer.last)
	if m == nil {
		t.Fatal("the order page has no CSRF token")
	}
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "token": {"tok_visa"}}
	req, err := http.NewRequest(http.MethodPost, base+loc+"/pay", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	type answer struct {
		status   int
		location string
		err      error
	}
	paid := make(chan answer, 1)
	go func() {
		resp, err := buyer.http.Do(req)
		if err != nil {
			paid <- answer{err: err}
			return
		}
		resp.Body.Close()
		paid <- answer{status: resp.StatusCode, location: resp.Header.Get("Location")}
	}()
	select {
	case <-held.charging:
	case a := <-paid:
		t.Fatalf("the payment answered %d %q (%v) before charging", a.status, a.location, a.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the charge never started")
	}
	natsbustest.Eventually(t, 30*time.Second, "the expiry cancels the order while its charge is held", func() bool {
		return orderStatus(api, orderID) == "cancelled"
	})
	close(held.release)
	var a answer
	select {
	case a = <-paid:
	case <-time.After(15 * time.Second):
		t.Fatal("the payment did not answer after its charge was released")
	}
	if a.err != nil || a.status != http.StatusSeeOther || a.location != loc {
		t.Fatalf("pay = %d to %q (%v), want 303 to %s", a.status, a.location, a.err, loc)
	}
	p := buyer.get(a.location)
	webWant(t, "order page after a late payment", p, http.StatusOK, "Your payment is being refunded in full", "Expired: the reservation ran out")
	if strings.Contains(p.body, "The ticket is yours") {
		t.Fatalf("a refunded order says the ticket is the buyer's:\n%s", p.body)
	}
	// "is being refunded" until payments has refunded it, "was" after:
	// the sandbox may refund before the page is read.
	natsbustest.Eventually(t, 30*time.Second, "the order page shows the refund", func() bool {
		body := buyer.get(loc).body
		return strings.Contains(body, "Your payment of $23.05 is being refunded in full") ||
			strings.Contains(body, "Your payment of $23.05 was refunded in full")
	})
}

// A decimal comma is a decimal comma, on the sell form and the edit form
// alike; a comma that could mean either is refused beside the field, never
// read as a thousands separator (20,50 was once listed at $2,050.00).
func TestWebSellPriceNotation(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := webSignUp(t, base, "seller@example.com")

	id := webSell(t, seller, "Gig", "20,50")
	webWant(t, "ticket sold at 20,50", seller.get("/tickets/"+id), http.StatusOK, "$20.50")

	seller.get("/tickets/new")
	for _, price := range []string{"1,234", "12,34.50"} {
		p := seller.follow("sell at "+price, seller.post("/tickets/new", url.Values{"title": {"Opera"}, "price": {price}}), "/tickets/new")
		webWant(t, "sell at "+price, p, http.StatusOK, `id="price-error"`, `value="`+price+`"`, `value="Opera"`)
	}
	webWant(t, "ambiguous price", seller.follow("ambiguous price", seller.post("/tickets/new", url.Values{"title": {"Opera"}, "price": {"1,234"}}), "/tickets/new"),
		http.StatusOK, "Write 1234 or 1234.00")

	seller.get("/tickets/" + id + "/edit")
	webWant(t, "edit to an ambiguous price",
		seller.follow("edit to an ambiguous price", seller.post("/tickets/"+id+"/edit", url.Values{"title": {"Gig"}, "price": {"1,234"}}), "/tickets/"+id+"/edit"),
		http.StatusOK, `id="price-error"`, "Write 1234 or 1234.00")
	for price, want := range map[string]string{"1.234,50": "$1,234.50", "1,234.5": "$1,234.50", "7,5": "$7.50"} {
		seller.get("/tickets/" + id + "/edit")
		webRedirect(t, "edit to "+price, seller.post("/tickets/"+id+"/edit", url.Values{"title": {"Gig"}, "price": {price}}), "/listings")
		webWant(t, "listing at "+price, seller.get("/tickets/"+id), http.StatusOK, want)
	}
}

// Pages and their styles are compressed through the real wiring, static
// files are named by their content and cached for a year, and the CSRF
// token is written differently in every page (so compression reveals
// nothing of it) yet accepted.
func TestWebCompressionAndAssets(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := webSignUp(t, base, "ann@example.com")

	fetch := func(path, accept string) webPage {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", accept)
		return b.send(req)
	}
	plain := fetch("/", "identity")
	webWant(t, "index", plain, http.StatusOK)
	if p := fetch("/", "gzip"); p.header.Get("Content-Encoding") != "gzip" || len(p.body) >= len(plain.body)/2 {
		t.Fatalf("index with gzip: Content-Encoding %q, %d bytes of %d", p.header.Get("Content-Encoding"), len(p.body), len(plain.body))
	}

	css := regexp.MustCompile(`href="(/static/style\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(plain.body)
	if css == nil {
		t.Fatalf("the page links no hashed stylesheet:\n%s", plain.body)
	}
	p := fetch(css[1], "gzip")
	if p.status != http.StatusOK || p.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || p.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET %s = %d, Cache-Control %q, Content-Encoding %q", css[1], p.status, p.header.Get("Cache-Control"), p.header.Get("Content-Encoding"))
	}
	if p := b.get("/static/style.css"); p.status != http.StatusFound || p.location != css[1] {
		t.Fatalf("the plain name = %d to %q, want 302 to %s", p.status, p.location, css[1])
	}
	webWant(t, "another hash", b.get("/static/style.0123456789ab.css"), http.StatusNotFound)

	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	first := token.FindStringSubmatch(b.get("/").body)
	second := token.FindStringSubmatch(b.get("/").body)
	if first == nil || second == nil || first[1] == second[1] {
		t.Fatalf("the CSRF field is the same in two pages: %v, %v", first, second)
	}
	webRedirect(t, "sign out with the latest page's token", b.post("/auth/signout", url.Values{}), "/")
}

// TestWebSoldReservedAndWithdrawn: the buyer holding a reservation is sent
// to pay, a paid ticket reads Sold to its seller (with the amount) and no
// longer available to others, and a seller withdraws a listing from My
// listings without JavaScript.
func TestWebSoldReservedAndWithdrawn(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := webSignUp(t, base, "seller@example.com")
	gig := webSell(t, seller, "Gig", "20.50")
	spare := webSell(t, seller, "Spare", "5")
	buyer := webSignUp(t, base, "buyer@example.com")
	third := webSignUp(t, base, "third@example.com")

	buyer.get("/tickets/" + gig)
	loc := webRedirect(t, "purchase", buyer.post("/tickets/"+gig+"/purchase", url.Values{}), "/orders/")
	natsbustest.Eventually(t, 10*time.Second, "the buyer is sent to pay", func() bool {
		return strings.Contains(buyer.get("/tickets/"+gig).body, "You reserved this ticket")
	})
	webWant(t, "buyer's reserved ticket", buyer.get("/tickets/"+gig), http.StatusOK, `href="`+loc+`"`)

	buyer.get(loc)
	webRedirect(t, "pay", buyer.post(loc+"/pay", url.Values{"token": {"tok_visa"}}), "/orders")
	natsbustest.Eventually(t, 10*time.Second, "the ticket reads sold to others", func() bool {
		return strings.Contains(third.get("/tickets/"+gig).body, "no longer available")
	})
	if p := third.get("/tickets/" + gig); strings.Contains(p.body, "Someone is buying") {
		t.Fatal("a sold ticket still reads as being bought")
	}
	webWant(t, "seller's sold ticket", seller.get("/tickets/"+gig), http.StatusOK, "You sold this ticket", "$20.50")
	webWant(t, "seller's listings", seller.get("/listings"), http.StatusOK, "Sold", "$20.50", "Withdraw")

	webRedirect(t, "withdraw", seller.post("/tickets/"+spare+"/withdraw", url.Values{}), "/listings")
	webWant(t, "listings after withdrawal", seller.get("/listings"), http.StatusOK, "Withdrawn")
	webWant(t, "withdrawn ticket", third.get("/tickets/"+spare), http.StatusOK, "no longer available")
	if p := third.get("/"); strings.Contains(p.body, "/tickets/"+spare) {
		t.Fatal("a withdrawn ticket is still on the index")
	}
}

// TestWebIndexSearchAndSort: the index's search finds every word in any
// order, ignoring case and accents, and its sort pages through the tickets
// by price without repeating or skipping one.
func TestWebIndexSearchAndSort(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := signUp(t, base, "seller@example.com")
	sell := func(title string, price int) {
		if got := seller.do("POST", "/api/tickets", map[string]any{"title": title, "price": price}, nil); got != http.StatusCreated {
			t.Fatalf("sell %s = %d", title, got)
		}
	}
	// 26 shows at 26 different prices, in no order of their listing.
	priceOf := func(i int) int { return 10 + i*11%26 }
	for i := range 26 {
		sell(fmt.Sprintf("Show %02d", i), priceOf(i))
	}
	sell("Opera night, balcony", 45)
	sell("Café Crème matinee", 12)

	titles := regexp.MustCompile(`class="ticket-title"><a href="/tickets/[^"]+">([^<]+)</a>`)
	shown := func(body string) []string {
		var out []string
		for _, m := range titles.FindAllStringSubmatch(body, -1) {
			out = append(out, html.UnescapeString(m[1]))
		}
		return out
	}
	anon := newWebBrowser(t, base)
	for _, tt := range []struct{ q, want string }{
		{"opera balcony", "Opera night, balcony"},
		{"BALCONY opera", "Opera night, balcony"},
		{"balc", "Opera night, balcony"},
		{"cafe creme", "Café Crème matinee"},
		{`"café" -*`, "Café Crème matinee"},
	} {
		p := anon.get("/?q=" + url.QueryEscape(tt.q))
		if got := shown(p.body); p.status != http.StatusOK || len(got) != 1 || got[0] != tt.want {
			t.Errorf("q=%s: %d %v, want [%s]", tt.q, p.status, got, tt.want)
		}
	}

	for _, tt := range []struct {
		sort  string
		label string
		less  func(a, b int) bool
	}{
		{"price_asc", "Price: low to high", func(a, b int) bool { return a < b }},
		{"price_desc", "Price: high to low", func(a, b int) bool { return a > b }},
	} {
		t.Run(tt.sort, func(t *testing.T) {
			var want []string
			for i := range 26 {
				want = append(want, fmt.Sprintf("Show %02d", i))
			}
			slices.SortFunc(want, func(a, b string) int {
				var i, j int
				fmt.Sscanf(a, "Show %d", &i)
				fmt.Sscanf(b, "Show %d", &j)
				if tt.less(priceOf(i), priceOf(j)) {
					return -1
				}
				return 1
			})
			p := anon.get("/?q=show&sort=" + tt.sort)
			webWant(t, "first page", p, http.StatusOK, `<option value="`+tt.sort+`" selected>`+tt.label, ">More tickets<")
			got := shown(p.body)
			more := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.body)
			if more == nil {
				t.Fatal("no next-page link")
			}
			p = anon.get(html.UnescapeString(more[1]))
			webWant(t, "second page", p, http.StatusOK, ">First page<", `<option value="`+tt.sort+`" selected>`)
			if strings.Contains(p.body, "More tickets") {
				t.Fatal("a third page is offered")
			}
			got = append(got, shown(p.body)...)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("pages show\n%v\nwant\n%v", got, want)
			}
		})
	}

	p := anon.get("/?sort=cheapest")
	webWant(t, "unknown sort", p, http.StatusOK, "sort must be newest, price_asc or price_desc", `aria-describedby="sort-error"`)
}

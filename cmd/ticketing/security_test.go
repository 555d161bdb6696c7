package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestWebSignInRedirectStaysOnSite follows a sign-in link whose next
// parameter points elsewhere, as an attacker would mail it: the form must
// not carry the target, and the redirect after signing in must stay on this
// site (falling back to the index). Paths of this site still work.
func TestWebSignInRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	webSignUp(t, base, "ann@example.com")
	const signedIn = "/" // where a refused target falls back to
	hidden := regexp.MustCompile(`name="next" value="([^"]*)"`)
	tests := []struct {
		query string // the next parameter as written in the link
		want  string // the Location after signing in
	}{
		{"/orders/abc", "/orders/abc"},
		{"/ok%3Fx%3D1", "/ok?x=1"},
		{"/%09/evil.example", signedIn},
		{"/%0a/evil.example", signedIn},
		{"/%0d%0a/evil.example", signedIn},
		{"/%252f/evil.example", signedIn},
		{"%2F%2Fevil.example", signedIn},
		{"///evil.example", signedIn},
		{"/%5Cevil.example", signedIn},
		{"%5C/evil.example", signedIn},
		{"https://evil.example", signedIn},
		{"http:evil.example", signedIn},
		{"javascript:alert(1)", signedIn},
		{"%20/evil.example", signedIn},
		{"evil.example", signedIn},
		{"", signedIn},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery("next=" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			next := q.Get("next")
			b := newWebBrowser(t, base)
			p := b.get("/auth/signin?next=" + tt.query)
			webWant(t, "sign-in page", p, http.StatusOK)
			m := hidden.FindStringSubmatch(p.body)
			carried := ""
			if m != nil {
				carried = html.UnescapeString(m[1])
			}
			wantCarried := next
			if tt.want == signedIn {
				wantCarried = ""
			}
			if carried != wantCarried {
				t.Fatalf("the form carries next=%q for %q, want %q", carried, next, wantCarried)
			}
			// The POST names the target itself, as a forged form could.
			p = b.post("/auth/signin", url.Values{"email": {"ann@example.com"}, "password": {"correct horse"}, "next": {next}})
			if p.status != http.StatusSeeOther || p.location != tt.want {
				t.Fatalf("sign in with next=%q = %d to %q, want 303 to %q", next, p.status, p.location, tt.want)
			}
		})
	}
}

// TestWebCrossSiteFormGetsThePage posts a sell form from another site
// through the gateway, with a valid CSRF token even: the person gets the
// web's HTML error page (403), not the API's JSON, and nothing is listed.
// A cross-site API write still gets the JSON 403.
func TestWebCrossSiteFormGetsThePage(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	b := webSignUp(t, base, "ann@example.com")
	b.get("/tickets/new")
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(b.last)[1]
	req, _ := http.NewRequest(http.MethodPost, base+"/tickets/new", strings.NewReader("title=Forged&price=1&csrf="+url.QueryEscape(html.UnescapeString(tok))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	p := b.send(req)
	webWant(t, "cross-site form", p, http.StatusForbidden, "Request refused", "sent from another website")
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("cross-site form answered %q, want the HTML error page", ct)
	}
	if p := b.get("/listings"); strings.Contains(p.body, "Forged") {
		t.Fatal("a cross-site form listed a ticket")
	}

	req, _ = http.NewRequest(http.MethodPost, base+"/api/tickets", strings.NewReader(`{"title":"Forged","price":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	p = b.send(req)
	var body struct{ Errors []struct{ Message string } }
	if p.status != http.StatusForbidden || json.Unmarshal([]byte(p.body), &body) != nil || len(body.Errors) != 1 {
		t.Fatalf("cross-site API write = %d %q, want a JSON 403", p.status, p.body)
	}
}

// TestUpResponsesAreNotStored: every JSON answer of the API, public or a
// person's, error or not, says nosniff and no-store; so does every page
// (they carry the person's data and CSRF token).
func TestUpResponsesAreNotStored(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	c := signUp(t, base, "ann@example.com")
	if got := c.do("POST", "/api/tickets", map[string]any{"title": "Gig", "price": 10}, nil); got != http.StatusCreated {
		t.Fatalf("sell = %d", got)
	}
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/users/currentuser", "", 200},
		{"GET", "/api/tickets", "", 200},
		{"GET", "/api/tickets/mine", "", 200},
		{"GET", "/api/orders", "", 200},
		{"POST", "/api/tickets", `{"title":"Opera","price":5}`, 201},
		{"POST", "/api/orders", `{"ticketId":`, 400},
		{"GET", "/api/orders/no-such-order", "", 404},
		{"GET", "/api/nowhere", "", 404},
		{"GET", "/orders", "", 200},
		{"GET", "/listings", "", 200},
		{"GET", "/", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := c.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: X-Content-Type-Options %q, Cache-Control %q; want nosniff and no-store",
					h.Get("Content-Type"), h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
			}
		})
	}
}

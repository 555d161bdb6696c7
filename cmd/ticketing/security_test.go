package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// TestWebSignInRedirectStaysOnSite follows a sign-in link whose next
// parameter points elsewhere, as an attacker would mail it: the form must
// not carry the target, and the redirect after signing in must stay on this
// site (falling back to the index). Paths of this site still work.
func TestWebSignInRedirectStaysOnSite(t *testing.T) {
	base, _ := startUp(t, t.TempDir(), nil)
	webSignUp(t, base, "ann@example.com")
	const signedIn = "/?m=signedin" // where a refused target falls back to
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

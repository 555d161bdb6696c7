package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestSignUp(t *testing.T) {
	h := newHarness(t, Config{})
	if resp := h.do(t, "POST", "/api/users/signup", creds("taken@example.com", "password1")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("seed user: %d %s", resp.StatusCode, readBody(t, resp))
	}
	tests := []struct {
		name    string
		body    string
		status  int
		email   string   // for 201: the email answered
		fields  []string // for 400: the fields at fault, in order
		message string   // for 400: the first message, when it matters
	}{
		{name: "ok", body: creds("ann@example.com", "password1"), status: 201, email: "ann@example.com"},
		{name: "email trimmed and lower-cased", body: creds("  Bob@Example.COM \t", "password1"), status: 201, email: "bob@example.com"},
		{name: "email in use", body: creds("taken@example.com", "password1"), status: 400, fields: []string{"email"}, message: "Email in use"},
		{name: "email in use other case and space", body: creds(" TAKEN@Example.com ", "password1"), status: 400, fields: []string{"email"}, message: "Email in use"},
		{name: "email invalid", body: creds("not-an-email", "password1"), status: 400, fields: []string{"email"}},
		{name: "email with display name", body: creds("Ann <ann2@example.com>", "password1"), status: 400, fields: []string{"email"}},
		{name: "email without dot in domain", body: creds("ann@localhost", "password1"), status: 400, fields: []string{"email"}},
		{name: "email empty", body: creds("", "password1"), status: 400, fields: []string{"email"}},
		{name: "email blank", body: creds("   ", "password1"), status: 400, fields: []string{"email"}},
		{name: "password 7", body: creds("p7@example.com", strings.Repeat("a", 7)), status: 400, fields: []string{"password"}},
		{name: "password 8", body: creds("p8@example.com", strings.Repeat("a", 8)), status: 201, email: "p8@example.com"},
		{name: "password 128", body: creds("p128@example.com", strings.Repeat("a", 128)), status: 201, email: "p128@example.com"},
		{name: "password 129", body: creds("p129@example.com", strings.Repeat("a", 129)), status: 400, fields: []string{"password"}},
		{name: "password 7 two-byte chars (14 bytes)", body: creds("m7@example.com", strings.Repeat("é", 7)), status: 400, fields: []string{"password"}},
		{name: "password 8 two-byte chars", body: creds("m8@example.com", strings.Repeat("é", 8)), status: 201, email: "m8@example.com"},
		{name: "password 128 two-byte chars (256 bytes)", body: creds("m128@example.com", strings.Repeat("é", 128)), status: 201, email: "m128@example.com"},
		{name: "password 129 two-byte chars", body: creds("m129@example.com", strings.Repeat("é", 129)), status: 400, fields: []string{"password"}},
		{name: "password 8 four-byte chars", body: creds("e8@example.com", strings.Repeat("🎟", 8)), status: 201, email: "e8@example.com"},
		{name: "password empty", body: creds("pe@example.com", ""), status: 400, fields: []string{"password"}},
		{name: "both invalid", body: creds("nope", "short"), status: 400, fields: []string{"email", "password"}},
		{name: "missing fields", body: `{}`, status: 400, fields: []string{"email", "password"}},
		{name: "null", body: `null`, status: 400, fields: []string{"email", "password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", "/api/users/signup", tc.body)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusCreated {
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if got["email"] != tc.email || got["id"] == "" || len(got) != 2 {
					t.Errorf("body = %s, want {id, email:%q}", body, tc.email)
				}
				c := sessionCookie(t, resp)
				checkCookieFlags(t, c, false)
				u, err := session.Verify(testKey, c.Value, h.clock.Now())
				if err != nil || u.ID != got["id"] || u.Email != tc.email {
					t.Errorf("cookie token says %+v (%v), want the new user", u, err)
				}
				return
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("a failed sign-up set cookies: %v", resp.Header.Values("Set-Cookie"))
			}
			items := errorBody(t, body)
			var fields []string
			for _, it := range items {
				fields = append(fields, it.Field)
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %q, want %q; body %s", fields, tc.fields, body)
			}
			if tc.message != "" && items[0].Message != tc.message {
				t.Errorf("message = %q, want %q", items[0].Message, tc.message)
			}
		})
	}
}

func TestSignIn(t *testing.T) {
	h := newHarness(t, Config{})
	resp := h.do(t, "POST", "/api/users/signup", creds("ann@example.com", "correct horse"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign up: %d %s", resp.StatusCode, readBody(t, resp))
	}
	var ann userJSON
	json.Unmarshal([]byte(readBody(t, resp)), &ann)

	tests := []struct {
		name   string
		body   string
		status int
		fields []string // for 400
	}{
		{name: "ok", body: creds("ann@example.com", "correct horse"), status: 200},
		{name: "email other case and space", body: creds(" ANN@example.Com  ", "correct horse"), status: 200},
		{name: "wrong password", body: creds("ann@example.com", "correct horsE"), status: 400, fields: []string{""}},
		{name: "password is trimmed nowhere", body: creds("ann@example.com", " correct horse"), status: 400, fields: []string{""}},
		{name: "unknown email", body: creds("bob@example.com", "correct horse"), status: 400, fields: []string{""}},
		{name: "password empty", body: creds("ann@example.com", ""), status: 400, fields: []string{"password"}},
		{name: "email invalid", body: creds("ann", "correct horse"), status: 400, fields: []string{"email"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", "/api/users/signin", tc.body)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusOK {
				var got userJSON
				if err := json.Unmarshal([]byte(body), &got); err != nil || got != ann {
					t.Errorf("body = %s, want %+v", body, ann)
				}
				c := sessionCookie(t, resp)
				checkCookieFlags(t, c, false)
				if c.MaxAge != int((24 * time.Hour).Seconds()) {
					t.Errorf("MaxAge = %d, want 24h", c.MaxAge)
				}
				if u, err := session.Verify(testKey, c.Value, h.clock.Now()); err != nil || u.ID != ann.ID {
					t.Errorf("cookie token says %+v (%v)", u, err)
				}
				return
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("a failed sign-in set cookies")
			}
			items := errorBody(t, body)
			if len(items) != len(tc.fields) || items[0].Field != tc.fields[0] {
				t.Errorf("errors = %+v, want fields %q", items, tc.fields)
			}
		})
	}

	// An unknown email and a wrong password must be indistinguishable.
	wrong := readBody(t, h.do(t, "POST", "/api/users/signin", creds("ann@example.com", "wrong password")))
	unknown := readBody(t, h.do(t, "POST", "/api/users/signin", creds("nobody@example.com", "wrong password")))
	if wrong != unknown || wrong != `{"errors":[{"message":"Invalid credentials","code":"invalid_credentials"}]}`+"\n" {
		t.Errorf("wrong password answered %q, unknown email %q; want both Invalid credentials", wrong, unknown)
	}
}

func TestBadBodies(t *testing.T) {
	h := newHarness(t, Config{})
	huge := `{"email":"` + strings.Repeat("a", httpapi.MaxBody) + `@example.com","password":"password1"}`
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"empty body", "", 400},
		{"bad JSON", `{"email":`, 400},
		{"not JSON", `email=a@b.co&password=x`, 400},
		{"array", `[]`, 400},
		{"string", `"hello"`, 400},
		{"email is a number", `{"email":1,"password":"password1"}`, 400},
		{"password is an object", `{"email":"a@example.com","password":{}}`, 400},
		{"password is an array", `{"email":"a@example.com","password":[1]}`, 400},
		{"unknown field", `{"email":"a@example.com","password":"password1","admin":true}`, 400},
		{"two objects", `{"email":"a@example.com","password":"password1"}{}`, 400},
		{"oversized", huge, 413},
	}
	for _, path := range []string{"/api/users/signup", "/api/users/signin"} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				resp := h.do(t, "POST", path, tc.body)
				body := readBody(t, resp)
				if resp.StatusCode != tc.status {
					t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, body)
				}
				errorBody(t, body)
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			})
		}
	}
	t.Run("wrong method is a JSON 405", func(t *testing.T) {
		resp := h.do(t, "GET", "/api/users/signup", "")
		if body := readBody(t, resp); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status = %d; body %s", resp.StatusCode, body)
		} else {
			errorBody(t, body)
		}
	})
}

func TestCookieSecure(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[secure], func(t *testing.T) {
			h := newHarness(t, Config{CookieSecure: secure, TokenTTL: time.Hour})
			resp := h.do(t, "POST", "/api/users/signup", creds("ann@example.com", "password1"))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("sign up: %d", resp.StatusCode)
			}
			c := sessionCookie(t, resp)
			checkCookieFlags(t, c, secure)
			if c.MaxAge != 3600 {
				t.Errorf("MaxAge = %d, want TokenTTL", c.MaxAge)
			}

			resp = h.do(t, "POST", "/api/users/signin", creds("ann@example.com", "password1"))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("sign in: %d", resp.StatusCode)
			}
			checkCookieFlags(t, sessionCookie(t, resp), secure)

			resp = h.do(t, "POST", "/api/users/signout", "", withCookie(c))
			if body := readBody(t, resp); resp.StatusCode != http.StatusOK || body != "{}\n" {
				t.Fatalf("sign out: %d %q, want 200 {}", resp.StatusCode, body)
			}
			cleared := sessionCookie(t, resp)
			checkCookieFlags(t, cleared, secure)
			if cleared.Value != "" || cleared.MaxAge >= 0 {
				t.Errorf("sign-out cookie %q is not cleared (value %q, MaxAge %d)", cleared.Raw, cleared.Value, cleared.MaxAge)
			}
		})
	}
}

func TestSignOutSignedOut(t *testing.T) {
	h := newHarness(t, Config{})
	resp := h.do(t, "POST", "/api/users/signout", "")
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || body != "{}\n" {
		t.Fatalf("sign out: %d %q", resp.StatusCode, body)
	}
	if c := sessionCookie(t, resp); c.MaxAge >= 0 {
		t.Errorf("cookie not cleared: %s", c.Raw)
	}
}

func TestCurrentUser(t *testing.T) {
	h := newHarness(t, Config{TokenTTL: time.Hour})
	resp := h.do(t, "POST", "/api/users/signup", creds("ann@example.com", "password1"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign up: %d", resp.StatusCode)
	}
	signedUp := sessionCookie(t, resp)
	var ann userJSON
	json.Unmarshal([]byte(readBody(t, resp)), &ann)
	annJSON := `{"currentUser":{"id":"` + ann.ID + `","email":"ann@example.com","organizer":false}}` + "\n"
	organizerJSON := `{"currentUser":{"id":"` + ann.ID + `","email":"ann@example.com","organizer":true}}` + "\n"
	const nobody = `{"currentUser":null}` + "\n"

	cookie := func(v string) *http.Cookie { return &http.Cookie{Name: session.CookieName, Value: v} }
	issueAs := func(u session.User, key []byte, now time.Time, ttl time.Duration) string {
		tok, err := session.Issue(key, u, now, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	issue := func(key []byte, now time.Time, ttl time.Duration) string {
		return issueAs(session.User{ID: ann.ID, Email: ann.Email}, key, now, ttl)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64([]byte(`{"sub":"`+ann.ID+`","email":"ann@example.com","exp":`+
			itoa(h.clock.Now().Add(time.Hour).Unix())+`}`)) + "."

	tests := []struct {
		name    string
		cookie  *http.Cookie
		advance time.Duration // moves the clock before the request
		want    string
	}{
		{name: "no cookie", want: nobody},
		{name: "cookie from sign-up", cookie: signedUp, want: annJSON},
		{name: "valid token", cookie: cookie(issue(testKey, h.clock.Now(), time.Hour)), want: annJSON},
		{name: "organizer token", cookie: cookie(issueAs(session.User{ID: ann.ID, Email: ann.Email, Organizer: true}, testKey, h.clock.Now(), time.Hour)), want: organizerJSON},
		{name: "token of another key", cookie: cookie(issue([]byte("some-other-key-0123456789abcdef"), h.clock.Now(), time.Hour)), want: nobody},
		{name: "alg none", cookie: cookie(algNone), want: nobody},
		{name: "garbage", cookie: cookie("not.a.jwt"), want: nobody},
		{name: "empty", cookie: cookie(""), want: nobody},
		// Runs last: it moves the clock past every token above.
		{name: "expired", cookie: signedUp, advance: time.Hour + time.Second, want: nobody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.clock.Advance(tc.advance)
			var opts []reqOpt
			if tc.cookie != nil {
				opts = append(opts, withCookie(tc.cookie))
			}
			resp := h.do(t, "GET", "/api/users/currentuser", "", opts...)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK || body != tc.want {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRateLimit(t *testing.T) {
	// wantTooMany fails unless resp is a 429 whose Retry-After is
	// retryAfter seconds.
	wantTooMany := func(t *testing.T, resp *http.Response, retryAfter string) {
		t.Helper()
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status = %d, want 429; body %s", resp.StatusCode, body)
		}
		errorBody(t, body)
		if got := resp.Header.Get("Retry-After"); got != retryAfter {
			t.Errorf("Retry-After = %q, want %s", got, retryAfter)
		}
	}
	// 2 a minute: one attempt comes back every 30 s.
	retryAfter := func(t *testing.T, resp *http.Response) {
		t.Helper()
		wantTooMany(t, resp, "30")
	}
	status := func(t *testing.T, resp *http.Response, want int) {
		t.Helper()
		if body := readBody(t, resp); resp.StatusCode != want {
			t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want, body)
		}
	}
	signIn := func(h *harness, email, password, addr string) *http.Response {
		return h.do(h.tb, "POST", "/api/users/signin", creds(email, password), from(addr+":1"))
	}
	// newVictim is an account signed up from an address of its own.
	newVictim := func(t *testing.T) *harness {
		t.Helper()
		h := newHarness(t, Config{RatePerMinute: 2})
		status(t, h.do(t, "POST", "/api/users/signup", creds("victim@example.com", "right password"), from("192.0.2.200:1")), 201)
		return h
	}

	t.Run("per address", func(t *testing.T) {
		h := newHarness(t, Config{RatePerMinute: 2})
		addr := from("192.0.2.1:1234")
		status(t, h.do(t, "POST", "/api/users/signin", creds("a1@example.com", "password1"), addr), 400)
		status(t, h.do(t, "POST", "/api/users/signup", creds("a2@example.com", "password1"), addr), 201)
		retryAfter(t, h.do(t, "POST", "/api/users/signin", creds("a3@example.com", "password1"), addr))
		retryAfter(t, h.do(t, "POST", "/api/users/signup", creds("a4@example.com", "password1"), addr))
		// Another address is not affected.
		status(t, h.do(t, "POST", "/api/users/signin", creds("a5@example.com", "password1"), from("192.0.2.2:1234")), 400)
		// Validation errors cost nothing and are answered even when limited.
		status(t, h.do(t, "POST", "/api/users/signup", creds("bad", "password1"), addr), 400)
		// One attempt comes back after 30 s. Signing in does not spend it:
		// only failures count.
		h.clock.Advance(30 * time.Second)
		status(t, h.do(t, "POST", "/api/users/signin", creds("a2@example.com", "password1"), addr), 200)
		status(t, h.do(t, "POST", "/api/users/signin", creds("a2@example.com", "password1"), addr), 200)
		status(t, h.do(t, "POST", "/api/users/signin", creds("a2@example.com", "wrong pass"), addr), 400)
		retryAfter(t, h.do(t, "POST", "/api/users/signin", creds("a2@example.com", "password1"), addr))
	})

	// The lockout this design prevents: a guesser failing every 2 s on the
	// victim's email from one address neither locks the victim out (they
	// sign in from theirs with the right password) nor gets more than the
	// budget of guesses.
	t.Run("a guesser cannot lock the owner out", func(t *testing.T) {
		h := newVictim(t)
		guesses := 0
		for i := range 90 { // three minutes
			resp := signIn(h, "victim@example.com", fmt.Sprintf("guess%04d", i), "198.51.100.66")
			switch body := readBody(t, resp); resp.StatusCode {
			case http.StatusBadRequest:
				guesses++
			case http.StatusTooManyRequests:
				if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 || ra > 60 {
					t.Fatalf("guess %d: Retry-After %q", i, resp.Header.Get("Retry-After"))
				}
			default:
				t.Fatalf("guess %d: status %d %s", i, resp.StatusCode, body)
			}
			if i%10 == 5 {
				status(t, signIn(h, " Victim@Example.com", "right password", "203.0.113.7"), 200)
			}
			h.clock.Advance(2 * time.Second)
		}
		// 2 at once, then 2 a minute.
		if guesses < 2 || guesses > 2+2*3 {
			t.Errorf("the guesser got %d guesses in three minutes, want 2 + 2 a minute at most", guesses)
		}
	})

	// Failures of an email from many addresses put it under attack: an
	// address that has failed on it waits (a minute at most), one that has
	// not may still try. The right password from a fresh address gets in.
	t.Run("an email under attack", func(t *testing.T) {
		h := newVictim(t)
		status(t, signIn(h, "victim@example.com", "guess0001", "198.51.100.1"), 400)
		status(t, signIn(h, "victim@example.com", "guess0002", "198.51.100.2"), 400)
		// The email's next attempt is 30 s away, this address's 60 s.
		retryAfter(t, signIn(h, "victim@example.com", "guess0003", "198.51.100.1"))
		// A fresh address may try, once a minute while the attack lasts.
		status(t, signIn(h, "victim@example.com", "guess0004", "198.51.100.3"), 400)
		retryAfter(t, signIn(h, "victim@example.com", "right password", "198.51.100.3"))
		status(t, signIn(h, "victim@example.com", "right password", "203.0.113.7"), 200)
		// Other emails from the failing addresses are not affected.
		status(t, signIn(h, "someone@example.com", "password1", "198.51.100.1"), 400)
		// Failures go on, so the email stays under attack past its first
		// 30 s: 20 s later a failure pushes its next attempt 20 s on.
		h.clock.Advance(20 * time.Second)
		status(t, signIn(h, "victim@example.com", "guess0005", "198.51.100.4"), 400)
		h.clock.Advance(20 * time.Second)
		wantTooMany(t, signIn(h, "victim@example.com", "guess0006", "198.51.100.1"), "10")
		h.clock.Advance(10 * time.Second)
		status(t, signIn(h, "victim@example.com", "right password", "198.51.100.1"), 200)
	})

	t.Run("sign-ups count per address only", func(t *testing.T) {
		h := newVictim(t)
		for i := range 4 {
			resp := h.do(t, "POST", "/api/users/signup", creds("victim@example.com", "password1"), from(fmt.Sprintf("198.51.100.%d:1", i+1)))
			if body := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(body, "Email in use") {
				t.Fatalf("sign-up %d = %d %s, want 400 Email in use", i, resp.StatusCode, body)
			}
		}
		status(t, signIn(h, "victim@example.com", "right password", "203.0.113.7"), 200)
		addr := from("198.51.100.9:1")
		status(t, h.do(t, "POST", "/api/users/signup", creds("b1@example.com", "password1"), addr), 201)
		status(t, h.do(t, "POST", "/api/users/signup", creds("b1@example.com", "password1"), addr), 400)
		retryAfter(t, h.do(t, "POST", "/api/users/signup", creds("b2@example.com", "password1"), addr))
	})

	// Successful sign-ins cost no failure, but each one hashes: an address
	// may cause four times as many hashes as failures.
	t.Run("hashes per address", func(t *testing.T) {
		h := newVictim(t)
		for range 8 {
			status(t, signIn(h, "victim@example.com", "right password", "203.0.113.7"), 200)
		}
		// 8 a minute: one comes back every 7.5 s.
		wantTooMany(t, signIn(h, "victim@example.com", "right password", "203.0.113.7"), "8")
		status(t, signIn(h, "victim@example.com", "right password", "203.0.113.8"), 200)
	})

	// The budget is reserved before the hash, so guesses sent at once
	// cannot all pass the check before any has failed.
	t.Run("concurrent guesses", func(t *testing.T) {
		h := newVictim(t)
		const n = 10
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range n {
			wg.Go(func() {
				resp := signIn(h, "victim@example.com", fmt.Sprintf("guess%04d", i), "198.51.100.1")
				resp.Body.Close()
				codes[i] = resp.StatusCode
			})
		}
		wg.Wait()
		failed := 0
		for _, c := range codes {
			if c == http.StatusBadRequest {
				failed++
			} else if c != http.StatusTooManyRequests {
				t.Fatalf("status %d", c)
			}
		}
		if failed != 2 {
			t.Errorf("%d concurrent guesses were checked, want 2: %v", failed, codes)
		}
	})

	t.Run("X-Forwarded-For from a trusted proxy", func(t *testing.T) {
		trusted, err := httpapi.ParsePrefixes("10.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, Config{RatePerMinute: 2, TrustedProxies: trusted})
		proxy := from("10.1.2.3:5555")
		// Three clients behind the proxy: each has its own budget.
		for i, client := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
			status(t, h.do(t, "POST", "/api/users/signin", creds("x"+itoa(int64(i))+"@example.com", "password1"), proxy, forwardedFor(client)), 400)
		}
		// One client behind it, even through a second proxy hop, is limited.
		status(t, h.do(t, "POST", "/api/users/signin", creds("y1@example.com", "password1"), proxy, forwardedFor("203.0.113.1, 10.9.9.9")), 400)
		retryAfter(t, h.do(t, "POST", "/api/users/signin", creds("y2@example.com", "password1"), proxy, forwardedFor("203.0.113.1")))
	})

	t.Run("X-Forwarded-For from anyone else is ignored", func(t *testing.T) {
		trusted, _ := httpapi.ParsePrefixes("10.0.0.0/8")
		h := newHarness(t, Config{RatePerMinute: 2, TrustedProxies: trusted})
		spoofer := from("192.0.2.66:4444")
		status(t, h.do(t, "POST", "/api/users/signin", creds("s1@example.com", "password1"), spoofer, forwardedFor("203.0.113.1")), 400)
		status(t, h.do(t, "POST", "/api/users/signin", creds("s2@example.com", "password1"), spoofer, forwardedFor("203.0.113.2")), 400)
		retryAfter(t, h.do(t, "POST", "/api/users/signin", creds("s3@example.com", "password1"), spoofer, forwardedFor("203.0.113.3")))
	})

	t.Run("IPv6 clients count per /64", func(t *testing.T) {
		h := newHarness(t, Config{RatePerMinute: 2})
		status(t, h.do(t, "POST", "/api/users/signin", creds("v1@example.com", "password1"), from("[2001:db8:1:2::1]:1")), 400)
		status(t, h.do(t, "POST", "/api/users/signin", creds("v2@example.com", "password1"), from("[2001:db8:1:2::2]:1")), 400)
		retryAfter(t, h.do(t, "POST", "/api/users/signin", creds("v3@example.com", "password1"), from("[2001:db8:1:2:ffff::3]:1")))
	})

	t.Run("zero turns it off", func(t *testing.T) {
		h := newHarness(t, Config{RatePerMinute: 0})
		for range 3 {
			status(t, h.do(t, "POST", "/api/users/signin", creds("z@example.com", "password1"), from("192.0.2.1:1")), 400)
		}
	})
}

// Two sign-ups racing for one email: the unique index lets exactly one win,
// on every engine.
func TestSignUpRace(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		h := newHarnessDB(t, db, Config{})
		const n = 6
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			statuses = make([]int, n)
			bodies   = make([]string, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				resp := h.do(t, "POST", "/api/users/signup", creds(" Race@Example.com", "password1"))
				statuses[i], bodies[i] = resp.StatusCode, readBody(t, resp)
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i, st := range statuses {
			switch st {
			case http.StatusCreated:
				created++
			case http.StatusBadRequest:
				if items := errorBody(t, bodies[i]); items[0].Field != "email" || items[0].Message != "Email in use" {
					t.Errorf("loser got %s", bodies[i])
				}
			default:
				t.Errorf("status %d: %s", st, bodies[i])
			}
		}
		if created != 1 {
			t.Errorf("%d sign-ups succeeded, want exactly 1: %v", created, statuses)
		}
	}, Migrations)
}

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/session"
)

func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) httpapi.ErrorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if h := rec.Header(); h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v, want nosniff and no-store", h)
	}
	var body httpapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return body
}

type signup struct {
	Email string   `json:"email"`
	Price int      `json:"price"`
	Tags  []string `json:"tags"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	huge := `{"email":"` + strings.Repeat("a", httpapi.MaxBody) + `"}`
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantField  string
		wantMsg    string // substring
		want       signup
	}{
		{name: "valid", body: `{"email":"a@b.c","price":3,"tags":["x"]}`, wantStatus: 200, want: signup{Email: "a@b.c", Price: 3, Tags: []string{"x"}}},
		{name: "valid with trailing space", body: "{\"email\":\"a\"}\n  ", wantStatus: 200, want: signup{Email: "a"}},
		{name: "empty", body: "", wantStatus: 400, wantMsg: "empty"},
		{name: "bad JSON", body: `{"email":`, wantStatus: 400, wantMsg: "not valid JSON"},
		{name: "syntax error", body: `{email}`, wantStatus: 400, wantMsg: "not valid JSON"},
		{name: "wrong type", body: `{"email":12}`, wantStatus: 400, wantField: "email", wantMsg: "email must be a string"},
		{name: "wrong type number", body: `{"price":"12"}`, wantStatus: 400, wantField: "price", wantMsg: "price must be a number"},
		{name: "wrong type list", body: `{"tags":"x"}`, wantStatus: 400, wantField: "tags", wantMsg: "tags must be a list"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400, wantMsg: "must be a JSON object"},
		{name: "unknown field", body: `{"email":"a","admin":true}`, wantStatus: 400, wantField: "admin", wantMsg: "Unknown field"},
		{name: "two objects", body: `{"email":"a"}{"email":"b"}`, wantStatus: 400, wantMsg: "single JSON object"},
		{name: "trailing garbage", body: `{"email":"a"} x`, wantStatus: 400, wantMsg: "single JSON object"},
		{name: "too large", body: huge, wantStatus: 413, wantMsg: "larger than"},
		{name: "too large after the object", body: `{"email":"a"}` + strings.Repeat(" ", httpapi.MaxBody), wantStatus: 413, wantMsg: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got signup
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := httpapi.Decode(w, r, &got); err != nil {
					httpapi.Error(w, r, err)
					return
				}
				httpapi.Respond(w, http.StatusOK, got)
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(tc.body)))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus == 200 {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("decoded %+v, want %+v", got, tc.want)
				}
				return
			}
			body := decodeBody(t, rec)
			if len(body.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", body.Errors)
			}
			if e := body.Errors[0]; e.Field != tc.wantField || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("error %+v, want field %q and message containing %q", e, tc.wantField, tc.wantMsg)
			}
		})
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	var problems fault.Problems
	problems.Add("email", "Email must be valid")
	problems.Add("password", "Password must be between 8 and 128 characters")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantItems  []httpapi.ErrorItem
		retryAfter string
	}{
		{"invalid", fault.New(fault.Invalid, "Ticket is reserved"), 400, []httpapi.ErrorItem{{Message: "Ticket is reserved", Code: "invalid"}}, ""},
		{"invalid field", &fault.Error{Kind: fault.Invalid, Field: "title", Message: "Title is required"}, 400, []httpapi.ErrorItem{{Message: "Title is required", Field: "title", Code: "invalid"}}, ""},
		{"unauthorized", fault.New(fault.Unauthorized, "Not authorized"), 401, []httpapi.ErrorItem{{Message: "Not authorized", Code: "unauthorized"}}, ""},
		{"not found", fault.New(fault.NotFound, "Order not found"), 404, []httpapi.ErrorItem{{Message: "Order not found", Code: "not_found"}}, ""},
		{"wrapped not found", fmt.Errorf("load: %w", fault.New(fault.NotFound, "Order not found")), 404, []httpapi.ErrorItem{{Message: "Order not found", Code: "not_found"}}, ""},
		{"too large", fault.New(fault.TooLarge, "Too large"), 413, []httpapi.ErrorItem{{Message: "Too large", Code: "too_large"}}, ""},
		{"too many", &fault.Error{Kind: fault.TooMany, Message: "Slow down", RetryAfter: 1500 * time.Millisecond}, 429, []httpapi.ErrorItem{{Message: "Slow down", Code: "rate_limited"}}, "2"},
		{"declined", fault.New(fault.Declined, "Card declined"), 402, []httpapi.ErrorItem{{Message: "Card declined", Code: "declined"}}, ""},
		{"unavailable", &fault.Error{Kind: fault.Unavailable, Message: "Try later", RetryAfter: 5 * time.Second}, 503, []httpapi.ErrorItem{{Message: "Try later", Code: "unavailable"}}, "5"},
		{"conflict", &fault.Error{Kind: fault.Conflict, Code: "sold_out", Message: "Sold out"}, 409, []httpapi.ErrorItem{{Message: "Sold out", Code: "sold_out"}}, ""},
		{"conflict of its kind", fault.New(fault.Conflict, "Not now"), 409, []httpapi.ErrorItem{{Message: "Not now", Code: "conflict"}}, ""},
		{"problems", problems, 400, []httpapi.ErrorItem{{Message: "Email must be valid", Field: "email", Code: "invalid"}, {Message: "Password must be between 8 and 128 characters", Field: "password", Code: "invalid"}}, ""},
		{"wrapped problems", fmt.Errorf("validate: %w", problems.Err()), 400, []httpapi.ErrorItem{{Message: "Email must be valid", Field: "email", Code: "invalid"}, {Message: "Password must be between 8 and 128 characters", Field: "password", Code: "invalid"}}, ""},
		{"internal fault", fault.New(fault.Internal, "db password is hunter2"), 500, []httpapi.ErrorItem{{Message: "Something went wrong", Code: "internal"}}, ""},
		{"unknown error", errors.New("pq: connection refused"), 500, []httpapi.ErrorItem{{Message: "Something went wrong", Code: "internal"}}, ""},
		{"unknown kind", &fault.Error{Kind: fault.Kind(99), Message: "secret"}, 500, []httpapi.ErrorItem{{Message: "Something went wrong", Code: "internal"}}, ""},
		{"own code", fault.Coded(fault.Invalid, "ticket_reserved", "Ticket is reserved"), 400, []httpapi.ErrorItem{{Message: "Ticket is reserved", Code: "ticket_reserved"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			httpapi.Error(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if body := decodeBody(t, rec); !reflect.DeepEqual(body.Errors, tc.wantItems) {
				t.Errorf("errors %+v, want %+v", body.Errors, tc.wantItems)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if strings.Contains(rec.Body.String(), `"field":""`) {
				t.Errorf("empty field not omitted: %s", rec.Body)
			}
		})
	}
}

// TestRespond: every JSON answer says nosniff and, unless its handler chose
// otherwise, no-store, with a body or without.
func TestRespond(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      any
		cache     string // Cache-Control the handler set first
		wantCache string
		wantBody  string
	}{
		{"user data", 200, map[string]string{"email": "<b>ann@example.com</b>"}, "", "no-store", `{"email":"\u003cb\u003eann@example.com\u003c/b\u003e"}` + "\n"},
		{"no body", 204, nil, "", "no-store", ""},
		{"handler's own caching", 200, []int{1}, "public, max-age=60", "public, max-age=60", "[1]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if tt.cache != "" {
				rec.Header().Set("Cache-Control", tt.cache)
			}
			httpapi.Respond(rec, tt.status, tt.body)
			h := rec.Header()
			if rec.Code != tt.status || rec.Body.String() != tt.wantBody {
				t.Fatalf("answer %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.wantBody)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := h.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
		})
	}
}

func TestJSONFallback(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/things", func(w http.ResponseWriter, r *http.Request) { httpapi.Respond(w, 200, []string{}) })
	mux.HandleFunc("POST /api/things", func(w http.ResponseWriter, r *http.Request) { httpapi.Respond(w, 201, map[string]string{}) })
	mux.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) { httpapi.Respond(w, 200, r.PathValue("id")) })
	h := httpapi.JSONFallback(mux)
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    []string
		wantJSONErr  bool
	}{
		{"GET", "/api/things", 200, nil, false},
		{"POST", "/api/things", 201, nil, false},
		{"GET", "/api/things/42", 200, nil, false},
		{"GET", "/nowhere", 404, nil, true},
		{"GET", "/api/things/42/more", 404, nil, true},
		{"DELETE", "/api/things", 405, []string{"GET", "HEAD", "POST"}, true},
		{"PUT", "/api/things/42", 405, []string{"GET", "HEAD"}, true},
		{"GET", "/api//things", 3, nil, false}, // a redirect (301 or 307 by Go version)
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if tc.wantStatus == 3 && rec.Code/100 == 3 && rec.Header().Get("Location") == "/api/things" {
				return
			}
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantJSONErr {
				if body := decodeBody(t, rec); len(body.Errors) != 1 || body.Errors[0].Message == "" || body.Errors[0].Code == "" {
					t.Errorf("body %s", rec.Body)
				}
			}
			if tc.wantAllow != nil {
				for _, m := range tc.wantAllow {
					if !strings.Contains(rec.Header().Get("Allow"), m) {
						t.Errorf("Allow %q lacks %s", rec.Header().Get("Allow"), m)
					}
				}
			}
		})
	}
}

// logBuffer is a concurrency-safe buffer for a test logger.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantLog    []string
		noLog      []string
	}{
		{"panic", func(http.ResponseWriter, *http.Request) { panic("kaboom") }, 500, []string{"level=ERROR", "kaboom"}, nil},
		{"panic after header", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late")
		}, 202, []string{"level=ERROR", "late"}, nil},
		{"internal error", func(w http.ResponseWriter, r *http.Request) {
			httpapi.Error(w, r, errors.New("disk on fire"))
		}, 500, []string{"level=ERROR", "disk on fire", "status=500"}, nil},
		{"dependency down", func(w http.ResponseWriter, r *http.Request) {
			down := &fault.Error{Kind: fault.Unavailable, Message: "Try later", RetryAfter: 5 * time.Second}
			httpapi.Error(w, r, fmt.Errorf("list: %w: %w", down, errors.New("dial tcp: connection refused")))
		}, 503, []string{"level=WARN", "connection refused", "status=503"}, []string{"level=ERROR"}},
		{"ok", func(w http.ResponseWriter, r *http.Request) { httpapi.Respond(w, 200, "hi") }, 200, []string{"status=200"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf logBuffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			rec := httptest.NewRecorder()
			httpapi.Log(log)(tc.handler).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantStatus == 500 {
				if body := decodeBody(t, rec); len(body.Errors) != 1 || body.Errors[0].Message != "Something went wrong" {
					t.Errorf("body %s", rec.Body)
				}
			}
			for _, want := range tc.wantLog {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("log %q lacks %q", buf.String(), want)
				}
			}
			for _, not := range tc.noLog {
				if strings.Contains(buf.String(), not) {
					t.Errorf("log %q has %q", buf.String(), not)
				}
			}
		})
	}

	t.Run("abort handler", func(t *testing.T) {
		t.Parallel()
		log := slog.New(slog.NewTextHandler(&logBuffer{}, nil))
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler re-panicked", p)
			}
		}()
		httpapi.Log(log)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
			ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := httpapi.ParsePrefixes("10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies", "1.2.3.4:5555", nil, nil, "1.2.3.4"},
		{"spoofed header, nothing trusted", "1.2.3.4:5555", []string{"9.9.9.9"}, nil, "1.2.3.4"},
		{"spoofed header from untrusted peer", "5.5.5.5:5555", []string{"9.9.9.9"}, trusted, "5.5.5.5"},
		{"one trusted proxy", "10.0.0.1:80", []string{"8.8.8.8"}, trusted, "8.8.8.8"},
		{"client-supplied left entries ignored", "10.0.0.1:80", []string{"6.6.6.6, 8.8.8.8"}, trusted, "8.8.8.8"},
		{"chain of trusted proxies", "10.0.0.1:80", []string{"6.6.6.6, 8.8.8.8, 10.0.0.7, 10.1.2.3"}, trusted, "8.8.8.8"},
		{"several headers", "10.0.0.1:80", []string{"6.6.6.6", "8.8.8.8, 10.0.0.7"}, trusted, "8.8.8.8"},
		{"trusted peer without header", "10.0.0.1:80", nil, trusted, "10.0.0.1"},
		{"IPv6 proxy", "[::1]:80", []string{"2001:db8::1"}, trusted, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:80", []string{"8.8.8.8"}, trusted, "8.8.8.8"},
		{"no port", "1.2.3.4", nil, nil, "1.2.3.4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := httpapi.ClientAddr(r, tc.trusted); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.2", "192.0.2.2"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := httpapi.AddrKey(tc.addr); got != tc.want {
			t.Errorf("AddrKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{" , ", nil, false},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, false},
		{"10.1.2.3/8, 192.168.1.1 ,::1", []string{"10.0.0.0/8", "192.168.1.1/32", "::1/128"}, false},
		{"fd00::/8", []string{"fd00::/8"}, false},
		{"nope", nil, true},
		{"10.0.0.0/33", nil, true},
		{"10.0.0.0/8,bad/8", nil, true},
	}
	for _, tc := range tests {
		got, err := httpapi.ParsePrefixes(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParsePrefixes(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if !reflect.DeepEqual(s, tc.want) {
			t.Errorf("ParsePrefixes(%q) = %v, want %v", tc.in, s, tc.want)
		}
	}
}

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	key := []byte("test-key-0123456789abcdef0123456789")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	user := session.User{ID: "u1", Email: "a@b.c"}
	issue := func(key []byte, at time.Time, ttl time.Duration) string {
		tok, err := session.Issue(key, user, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64([]byte(fmt.Sprintf(`{"sub":"u1","email":"a@b.c","exp":%d}`, now.Add(time.Hour).Unix()))) + "."
	// One token signed out, and every token of another user issued before
	// now; valid tokens otherwise.
	revoked := session.NewRevocations()
	signedOut := issue(key, now, time.Hour)
	tok, err := session.Parse(key, signedOut, now)
	if err != nil {
		t.Fatal(err)
	}
	revoked.Add(session.Revocation{UserID: user.ID, TokenID: tok.ID, ExpiresAt: tok.ExpiresAt}, now)
	everywhere, err := session.Issue(key, session.User{ID: "u2", Email: "b@b.c"}, now.Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked.Add(session.Revocation{UserID: "u2", NotBefore: now, ExpiresAt: now.Add(time.Hour)}, now)
	tests := []struct {
		name     string
		cookie   string
		wantUser bool
	}{
		{"valid", issue(key, now, time.Hour), true},
		{"expired", issue(key, now.Add(-2*time.Hour), time.Hour), false},
		{"forged", issue([]byte("another-key-0123456789abcdef012345"), now, time.Hour), false},
		{"alg none", algNone, false},
		{"garbage", "not.a.token", false},
		{"empty", "", false},
		{"no cookie", "-", false},
		{"signed out", signedOut, false},
		{"signed out everywhere", everywhere, false},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok := httpapi.UserFrom(r.Context())
		if !ok {
			httpapi.Respond(w, 200, map[string]any{"currentUser": nil})
			return
		}
		httpapi.Respond(w, 200, map[string]any{"currentUser": u})
	})
	mux.HandleFunc("POST /private", httpapi.RequireUser(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Respond(w, 201, map[string]string{})
	}))
	h := httpapi.CurrentUser(session.Verifier{Key: key, Now: func() time.Time { return now }, Revoked: revoked})(mux)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := func(method, path string) *http.Request {
				r := httptest.NewRequest(method, path, nil)
				if tc.cookie != "-" {
					r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tc.cookie})
				}
				return r
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req("GET", "/me"))
			var body struct {
				CurrentUser *session.User `json:"currentUser"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if tc.wantUser {
				if body.CurrentUser == nil || *body.CurrentUser != user {
					t.Errorf("currentUser = %+v, want %+v", body.CurrentUser, user)
				}
			} else if body.CurrentUser != nil {
				t.Errorf("currentUser = %+v, want none", body.CurrentUser)
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req("POST", "/private"))
			want := map[bool]int{true: 201, false: 401}[tc.wantUser]
			if rec.Code != want {
				t.Errorf("RequireUser: status %d, want %d", rec.Code, want)
			}
			if rec.Code == 401 {
				if b := decodeBody(t, rec); len(b.Errors) != 1 || b.Errors[0].Message != "Not authorized" {
					t.Errorf("401 body %s", rec.Body)
				}
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		checks     []httpapi.Check
		wantStatus int
		wantFailed []string
	}{
		{"no checks", nil, 200, nil},
		{"all pass", []httpapi.Check{{Name: "db", Check: func(context.Context) error { return nil }}}, 200, nil},
		{"one fails", []httpapi.Check{
			{Name: "db", Check: func(context.Context) error { return nil }},
			{Name: "bus", Check: func(context.Context) error { return errors.New("not connected") }},
		}, 503, []string{"bus"}},
		{"slow check bounded", []httpapi.Check{{Name: "db", Check: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}}, 503, []string{"db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			httpapi.Health(mux, httpapi.Probes{Ready: tc.checks})
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != 200 {
				t.Errorf("/healthz %d", rec.Code)
			}
			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("/readyz %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			var body struct {
				Status string            `json:"status"`
				Failed map[string]string `json:"failed"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			for _, name := range tc.wantFailed {
				if body.Failed[name] == "" {
					t.Errorf("failed %v lacks %s", body.Failed, name)
				}
			}
			if len(body.Failed) != len(tc.wantFailed) {
				t.Errorf("failed %v, want %v", body.Failed, tc.wantFailed)
			}
		})
	}
}

// TestHealthLogsChanges: a failed /readyz is logged once when readiness
// changes (and once when it comes back), not at ERROR on every probe; the
// bus has its own endpoint and never fails readiness.
func TestHealthLogsChanges(t *testing.T) {
	t.Parallel()
	var dbDown, busDown atomic.Bool
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mux := http.NewServeMux()
	down := func(b *atomic.Bool) func(context.Context) error {
		return func(context.Context) error {
			if b.Load() {
				return errors.New("unreachable")
			}
			return nil
		}
	}
	httpapi.Health(mux, httpapi.Probes{
		Ready: []httpapi.Check{{Name: "db", Check: down(&dbDown)}},
		Bus:   down(&busDown),
		Log:   log,
	})
	h := httpapi.Log(log)(mux)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	steps := []struct {
		db, bus            bool
		wantReady, wantBus int
	}{
		{false, false, 200, 200},
		{false, true, 200, 503}, // the bus away: still ready
		{true, true, 503, 503},
		{true, true, 503, 503},
		{true, false, 503, 200},
		{false, false, 200, 200},
		{false, false, 200, 200},
	}
	for i, st := range steps {
		dbDown.Store(st.db)
		busDown.Store(st.bus)
		if got := get("/readyz"); got != st.wantReady {
			t.Errorf("step %d: /readyz %d, want %d", i, got, st.wantReady)
		}
		if got := get("/healthz/bus"); got != st.wantBus {
			t.Errorf("step %d: /healthz/bus %d, want %d", i, got, st.wantBus)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "not ready"); n != 1 {
		t.Errorf("logged \"not ready\" %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "ready again"); n != 1 {
		t.Errorf("logged \"ready again\" %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "level=ERROR") {
		t.Errorf("a probe was logged at ERROR:\n%s", out)
	}
	if strings.Contains(out, "msg=request") {
		t.Errorf("a failed probe was logged as a request, on every probe:\n%s", out)
	}
}

func TestObserve(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/things", func(w http.ResponseWriter, r *http.Request) { httpapi.Respond(w, 201, map[string]string{}) })
	mux.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /api/fail", func(w http.ResponseWriter, r *http.Request) { httpapi.Error(w, r, errors.New("boom")) })
	tests := []struct {
		method, path string
		wantRoute    string
		wantStatus   int
	}{
		{"POST", "/api/things", "POST /api/things", 201},
		{"GET", "/api/things/42", "GET /api/things/{id}", 200}, // wrote nothing: an implicit 200
		{"GET", "/api/things/43", "GET /api/things/{id}", 200}, // the same route, not a new label
		{"GET", "/api/fail", "GET /api/fail", 500},
		{"GET", "/nowhere/7", "none", 404},
		{"DELETE", "/api/things", "none", 405},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			var route string
			var status int
			var took time.Duration
			h := httpapi.Observe(httpapi.JSONFallback(mux), func(r string, s int, d time.Duration) { route, status, took = r, s, d })
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
			if route != tc.wantRoute || status != tc.wantStatus || took <= 0 {
				t.Errorf("observed (%q, %d, %v), want (%q, %d, > 0)", route, status, took, tc.wantRoute, tc.wantStatus)
			}
		})
	}
}

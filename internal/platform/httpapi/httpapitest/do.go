package httpapitest

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// Key signs the sessions of Handler and Do.
var Key = []byte("test-key-test-key-test-key-32byt")

// Handler is the mux routes fills, wrapped as the wiring wraps a service,
// verifying sessions signed with Key.
func Handler(routes func(*http.ServeMux)) http.Handler {
	mux := http.NewServeMux()
	routes(mux)
	return httpapi.Edge(mux, slog.New(slog.DiscardHandler), Key, time.Now, nil)
}

// Response is the answer Do recorded.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do serves one request through h (from Handler) as user, nil for signed
// out, with body sent as JSON.
func Do(tb testing.TB, h http.Handler, method, path string, user *session.User, body string) Response {
	tb.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if user != nil {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: Token(tb, Key, *user)})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return Response{Status: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
}

// Decode decodes the body into v, failing the test when it is not one.
func (r Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Object is the body as one JSON object.
func (r Response) Object(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	r.Decode(tb, &m)
	return m
}

// Objects is the body as a list of JSON objects.
func (r Response) Objects(tb testing.TB) []map[string]any {
	tb.Helper()
	var m []map[string]any
	r.Decode(tb, &m)
	return m
}

// Errors returns the field ("" for none) and code ("" for none) of each
// error of an error body, failing the test when the body is not one or an
// error has no message.
func (r Response) Errors(tb testing.TB) (fields, codes []string) {
	tb.Helper()
	var body httpapi.ErrorBody
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Errors) == 0 {
		tb.Fatalf("not an error body: %s (%v)", r.Body, err)
	}
	for _, e := range body.Errors {
		if e.Message == "" {
			tb.Fatalf("error without a message: %s", r.Body)
		}
		fields, codes = append(fields, e.Field), append(codes, e.Code)
	}
	return fields, codes
}

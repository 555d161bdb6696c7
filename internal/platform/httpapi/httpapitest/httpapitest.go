// Package httpapitest sends requests to a service's API in tests the way a
// signed-in (or signed-out) browser would, through the same edge the wiring
// puts in front of the service.
package httpapitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/session"
)

// Token is a session cookie value for user, signed with key, valid for an
// hour from now.
func Token(tb testing.TB, key []byte, user session.User) string {
	tb.Helper()
	tok, err := session.Issue(key, user, time.Now(), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Request serves one request through h as the holder of tok ("" = signed
// out). A non-empty body is sent as JSON.
func Request(h http.Handler, method, path, body, tok string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tok})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Decode decodes the JSON body w recorded into a T, failing the test when
// it is not one.
func Decode[T any](tb testing.TB, w *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return v
}

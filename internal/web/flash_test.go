package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// flashService is a web client with the given cookie key and clock.
func flashService(key string, now time.Time) *Service {
	return New(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{
		APIBase:   "http://api.invalid",
		Transport: downTransport{},
		CookieKey: []byte(key),
		Now:       func() time.Time { return now },
	})
}

// flashCookieOf is the flash cookie an answer sets, or nil.
func flashCookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == flashCookie {
			return c
		}
	}
	return nil
}

func TestFlashRoundTrip(t *testing.T) {
	t.Parallel()
	s := flashService("k1", fixedNow())
	f := newForm(url.Values{"title": {"Gig"}})
	f.Errors["price"] = "Price is required."
	f.General = []string{"Something else."}
	rec := httptest.NewRecorder()
	s.redirect(rec, httptest.NewRequest(http.MethodPost, "/tickets/new", nil), "/tickets/new?x=1", "listed", f)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/tickets/new?x=1" {
		t.Fatalf("redirect = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	c := flashCookieOf(rec)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 || c.MaxAge > 60 {
		t.Fatalf("flash cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, a minute at most", c)
	}
	if strings.Contains(c.Value, "Gig") {
		t.Fatalf("the flash cookie is not encoded: %q", c.Value)
	}

	req := httptest.NewRequest(http.MethodGet, "/tickets/new?x=1", nil)
	req.AddCookie(c)
	rec = httptest.NewRecorder()
	st := s.takeFlash(rec, req)
	if st == nil {
		t.Fatal("the page it was for did not get the flash")
	}
	got := st.form()
	if st.Msg != "listed" || got.Value("title") != "Gig" || got.Err("price") != "Price is required." || len(got.General) != 1 {
		t.Fatalf("flash = %+v, form %+v", st, got)
	}
	if c := flashCookieOf(rec); c == nil || c.MaxAge >= 0 {
		t.Fatalf("reading the flash did not clear it: %v", rec.Header().Values("Set-Cookie"))
	}
}

// TestFlashRefused: a flash that is forged, altered, signed with another
// key, expired, or for another page is not shown.
func TestFlashRefused(t *testing.T) {
	t.Parallel()
	seal := func(s *Service, to string) string {
		rec := httptest.NewRecorder()
		s.redirect(rec, httptest.NewRequest(http.MethodPost, to, nil), to, "welcome", nil)
		return flashCookieOf(rec).Value
	}
	s := flashService("k1", fixedNow())
	good := seal(s, "/")
	payload, sig, _ := strings.Cut(good, ".")
	forged := seal(flashService("k1", fixedNow()), "/orders") // a valid flash for another page
	forgedPayload, _, _ := strings.Cut(forged, ".")
	tests := []struct {
		name, value string
		service     *Service
		cleared     bool
	}{
		{"another key", good, flashService("k2", fixedNow()), true},
		{"expired", good, flashService("k1", fixedNow().Add(flashTTL+2*time.Second)), true},
		{"payload swapped", forgedPayload + "." + sig, s, true},
		{"no signature", payload, s, true},
		{"garbage", "%%%", s, true},
		{"another page", forged, s, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: flashCookie, Value: tt.value})
			rec := httptest.NewRecorder()
			if st := tt.service.takeFlash(rec, req); st != nil {
				t.Fatalf("accepted %+v", st)
			}
			if cleared := flashCookieOf(rec) != nil; cleared != tt.cleared {
				t.Fatalf("cleared = %v, want %v", cleared, tt.cleared)
			}
		})
	}
}

// TestFlashTooBig: values that would not fit in a cookie are left out, the
// problems kept; a redirect with nothing to say sets no cookie.
func TestFlashTooBig(t *testing.T) {
	t.Parallel()
	s := flashService("k1", fixedNow())
	f := newForm(url.Values{"title": {strings.Repeat("x", 10000)}})
	f.Errors["title"] = "Title is too long."
	rec := httptest.NewRecorder()
	s.redirect(rec, httptest.NewRequest(http.MethodPost, "/tickets/new", nil), "/tickets/new", "", f)
	c := flashCookieOf(rec)
	if c == nil || len(c.Value) > flashMax {
		t.Fatalf("flash cookie of %d bytes", len(c.Value))
	}
	st, ok := s.openFlash(c.Value)
	if !ok || st.Values != nil || st.Errors["title"] != "Title is too long." {
		t.Fatalf("flash = %+v", st)
	}

	rec = httptest.NewRecorder()
	s.redirect(rec, httptest.NewRequest(http.MethodPost, "/x", nil), "/", "", nil)
	if c := flashCookieOf(rec); c != nil {
		t.Fatalf("a plain redirect set %v", c)
	}
}

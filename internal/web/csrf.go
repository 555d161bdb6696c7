package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRF protection is the double-submit pattern: a random token lives in an
// HttpOnly, SameSite=Strict cookie and in a hidden field of every form that
// changes state; a POST is served only when the two match. Another site can
// make a browser send the cookie (not even that, with Strict) but cannot read
// it to fill the field. The cross-origin refusal every form also passes
// (sameOrigin, web.go) is a second, independent guard.
//
// Pages are compressed, and a page can hold the token beside text that
// someone else chose (a search, a ticket's title): an attacker who sees
// the sizes of many such responses could guess a secret that repeats in
// them byte by byte (BREACH). So the field carries the token masked with a
// fresh one-time pad in every response (as Django and Rails do): the same
// token never appears twice in a page. The cookie, which no page shows,
// holds it plain.
const (
	csrfCookie = "csrf"
	csrfField  = "csrf"
	// csrfLen is the length of an encoded token: 32 random bytes.
	csrfLen = 43
	// csrfMaskedLen is the length of an encoded masked token: the pad and
	// the token XOR the pad, 64 bytes.
	csrfMaskedLen = 86
)

func newCSRFToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maskCSRF returns tok masked with a fresh random pad, encoded; "" if tok
// is not a token.
func maskCSRF(tok string) string {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		return ""
	}
	b := make([]byte, 64)
	rand.Read(b[:32])
	for i, c := range raw {
		b[32+i] = c ^ b[i]
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// unmaskCSRF undoes maskCSRF; "" if field is not a masked token.
func unmaskCSRF(field string) string {
	b, err := base64.RawURLEncoding.DecodeString(field)
	if err != nil || len(b) != 64 {
		return ""
	}
	for i := range 32 {
		b[32+i] ^= b[i]
	}
	return base64.RawURLEncoding.EncodeToString(b[32:])
}

// validCSRF reports whether the form's token, masked or (in a page from
// before masking) plain, is the cookie's well-formed token, comparing in
// constant time.
func validCSRF(cookie, field string) bool {
	if len(field) == csrfMaskedLen {
		field = unmaskCSRF(field)
	}
	if len(cookie) != csrfLen || len(field) != csrfLen {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cookie), []byte(field)) == 1
}

// csrfToken returns the caller's token, masked for the page, issuing one
// (in a cookie) when the browser has none yet.
func (s *Service) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == csrfLen {
		if m := maskCSRF(c.Value); m != "" {
			return m
		}
	}
	return maskCSRF(s.setCSRF(w))
}

// setCSRF issues a fresh token. Sign in, up and out call it too, so a token
// lives no longer than the session it was issued in.
func (s *Service) setCSRF(w http.ResponseWriter) string {
	tok := newCSRFToken()
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    tok,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.cfg.CookieSecure,
		SameSite: http.SameSiteStrictMode,
	})
	return tok
}

// checkCSRF parses the form (bounded) and refuses a POST whose token does
// not match the cookie's.
func (s *Service) checkCSRF(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.renderError(w, r, http.StatusBadRequest, "Form not accepted",
				"The form could not be read. Go back, reload the page and try again.")
			return
		}
		var cookie string
		if c, err := r.Cookie(csrfCookie); err == nil {
			cookie = c.Value
		}
		if !validCSRF(cookie, r.PostForm.Get(csrfField)) {
			s.setCSRF(w)
			s.renderError(w, r, http.StatusForbidden, "This form has expired",
				"For your safety we did not act on it. Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}

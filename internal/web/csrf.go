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
const (
	csrfCookie = "csrf"
	csrfField  = "csrf"
	// csrfLen is the length of an encoded token: 32 random bytes.
	csrfLen = 43
)

func newCSRFToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validCSRF reports whether the cookie's and the form's tokens are the same
// well-formed token, comparing in constant time.
func validCSRF(cookie, field string) bool {
	if len(cookie) != csrfLen || len(field) != csrfLen {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cookie), []byte(field)) == 1
}

// csrfToken returns the caller's token, issuing one (in a cookie) when the
// browser has none yet.
func (s *Service) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == csrfLen {
		return c.Value
	}
	return s.setCSRF(w)
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

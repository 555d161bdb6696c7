package web

import (
	"net/http"
	"net/url"
	"strings"
)

// The account pages: sign up, sign in, sign out.

type authData struct {
	Action string // "signup" or "signin"
	Next   string
}

func nextParam(r *http.Request) string {
	n := r.FormValue("next")
	if !localPath(n) {
		return ""
	}
	return n
}

func (s *Service) handleSignUpForm(w http.ResponseWriter, r *http.Request) {
	s.authForm(w, r, "signup")
}

func (s *Service) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	s.authForm(w, r, "signin")
}

func (s *Service) authForm(w http.ResponseWriter, r *http.Request, action string) {
	title := "Sign up"
	if action == "signin" {
		title = "Sign in"
	}
	v, ok := s.begin(w, r, title, action)
	if !ok {
		return
	}
	if v.User != nil && v.Form == nil {
		seeOther(w, r, "/")
		return
	}
	v.Data = authData{Action: action, Next: nextParam(r)}
	s.render(w, r, http.StatusOK, "auth", v)
}

func (s *Service) handleSignUp(w http.ResponseWriter, r *http.Request) { s.authSubmit(w, r, "signup") }
func (s *Service) handleSignIn(w http.ResponseWriter, r *http.Request) { s.authSubmit(w, r, "signin") }

func (s *Service) authSubmit(w http.ResponseWriter, r *http.Request, action string) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	var cookies []string
	var err error
	if action == "signup" {
		cookies, err = s.api.SignUp(r, email, password)
	} else {
		cookies, err = s.api.SignIn(r, email, password)
	}
	next := nextParam(r)
	if err != nil {
		if st := statusOf(err); st == 0 || st >= 500 || st == http.StatusNotFound {
			s.fail(w, r, err)
			return
		}
		// Keep the email; a password is never written back into a page.
		f := newForm(url.Values{"email": {email}})
		f.addAPIError(err, "email", "password")
		back := "/auth/" + action
		if next != "" {
			back += "?next=" + url.QueryEscape(next)
		}
		s.redirect(w, r, back, "", f)
		return
	}
	passCookies(w, cookies)
	s.setCSRF(w)
	switch {
	case next != "":
		s.redirect(w, r, next, "", nil)
	case action == "signup":
		s.redirect(w, r, "/", "welcome", nil)
	default:
		s.redirect(w, r, "/", "signedin", nil)
	}
}

func (s *Service) handleSignOutForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.begin(w, r, "Sign out", "")
	if !ok {
		return
	}
	if v.User == nil {
		seeOther(w, r, "/")
		return
	}
	s.render(w, r, http.StatusOK, "signout", v)
}

// handleSignOut always signs the browser out: if the API cannot be reached,
// the session cookie is cleared here. With everywhere=1 it ends every
// session of the account.
func (s *Service) handleSignOut(w http.ResponseWriter, r *http.Request) {
	cookies, err := s.api.SignOut(r, r.PostForm.Get("everywhere") == "1")
	if err != nil || len(cookies) == 0 {
		if err != nil {
			s.log.Warn("web signout", "err", err)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	}
	passCookies(w, cookies)
	s.setCSRF(w)
	s.redirect(w, r, "/", "signedout", nil)
}

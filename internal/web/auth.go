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
	s.authForm(w, r, "signup", nil, http.StatusOK)
}

func (s *Service) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	s.authForm(w, r, "signin", nil, http.StatusOK)
}

func (s *Service) authForm(w http.ResponseWriter, r *http.Request, action string, f *form, status int) {
	title := "Sign up"
	if action == "signin" {
		title = "Sign in"
	}
	v, ok := s.begin(w, r, title, action)
	if !ok {
		return
	}
	if v.User != nil && f == nil {
		seeOther(w, r, "/")
		return
	}
	if f == nil {
		f = newForm(nil)
	}
	v.Form = f
	v.Data = authData{Action: action, Next: nextParam(r)}
	s.render(w, r, status, "auth", v)
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
	if err != nil {
		if st := statusOf(err); st == 0 || st >= 500 || st == http.StatusNotFound {
			s.fail(w, r, err)
			return
		}
		// Keep the email; a password is never written back into a page.
		f := newForm(url.Values{"email": {email}})
		f.addAPIError(err, "email", "password")
		s.authForm(w, r, action, f, http.StatusUnprocessableEntity)
		return
	}
	passCookies(w, cookies)
	s.setCSRF(w)
	to := nextParam(r)
	if to == "" {
		to = "/?m=signedin"
		if action == "signup" {
			to = "/?m=welcome"
		}
	}
	seeOther(w, r, to)
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
	seeOther(w, r, "/?m=signedout")
}

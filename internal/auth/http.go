package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// Routes registers the auth API on mux. The wiring must wrap mux with
// httpapi.CurrentUser (currentuser reads its result) and httpapi.Log.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/users/signup", s.handleSignUp)
	mux.HandleFunc("POST /api/users/signin", s.handleSignIn)
	mux.HandleFunc("POST /api/users/signout", s.handleSignOut)
	mux.HandleFunc("POST /api/users/signout-all", httpapi.RequireUser(s.handleSignOutAll))
	mux.HandleFunc("GET /api/users/currentuser", s.handleCurrentUser)
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// userJSON is the body of sign-up and sign-in, as the seed has it.
type userJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// sessionUserJSON is who currentuser says the caller is.
type sessionUserJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// Organizer is what the session token says: the account's flag when
	// it was issued (an operator's grant counts from the next sign-in).
	Organizer bool `json:"organizer"`
}

type currentUserJSON struct {
	CurrentUser *sessionUserJSON `json:"currentUser"`
}

func (s *Service) handleSignUp(w http.ResponseWriter, r *http.Request) {
	var req credentials
	if err := httpapi.Decode(w, r, &req); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	u, err := s.SignUp(r.Context(), httpapi.ClientAddr(r, s.cfg.TrustedProxies), req.Email, req.Password)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	s.startSession(w, r, http.StatusCreated, u)
}

func (s *Service) handleSignIn(w http.ResponseWriter, r *http.Request) {
	var req credentials
	if err := httpapi.Decode(w, r, &req); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	u, err := s.SignIn(r.Context(), httpapi.ClientAddr(r, s.cfg.TrustedProxies), req.Email, req.Password)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	s.startSession(w, r, http.StatusOK, u)
}

// handleSignOut clears the cookie and revokes its token everywhere. Without
// a valid session there is nothing to revoke: still 200.
func (s *Service) handleSignOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r, s.SignOut)
}

// handleSignOutAll revokes every session of the caller, this one included.
func (s *Service) handleSignOutAll(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r, s.SignOutEverywhere)
}

func (s *Service) endSession(w http.ResponseWriter, r *http.Request, revoke func(context.Context, session.Token) error) {
	// MaxAge -1 sends Max-Age=0: the browser drops the cookie at once. The
	// flags must match the ones it was set with, or some browsers keep it.
	// Cleared even when the revocation fails: this browser is signed out
	// either way, and the error tells the client the token may live on.
	http.SetCookie(w, s.cookie("", -1))
	w.Header().Set("Cache-Control", "no-store")
	if t, ok := httpapi.TokenFrom(r.Context()); ok {
		if err := revoke(r.Context(), t); err != nil {
			httpapi.Error(w, r, fmt.Errorf("revoke session: %w", err))
			return
		}
	}
	httpapi.Respond(w, http.StatusOK, struct{}{})
}

func (s *Service) handleCurrentUser(w http.ResponseWriter, r *http.Request) {
	var body currentUserJSON
	if u, ok := httpapi.UserFrom(r.Context()); ok {
		body.CurrentUser = &sessionUserJSON{ID: u.ID, Email: u.Email, Organizer: u.Organizer}
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.Respond(w, http.StatusOK, body)
}

// startSession sets the session cookie for u, whose token carries whether
// u is an organizer, and answers status {id,email}.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, status int, u User) {
	// A sign-out everywhere revokes the millisecond it happened in; a
	// session begun within it is dated at its end, or it would be born
	// revoked (SignOutEverywhere).
	now := s.cfg.Now()
	if nb := s.cfg.Revoked.NotBefore(u.ID); now.Before(nb) {
		now = nb
	}
	token, err := session.Issue(s.cfg.Key, session.User{ID: u.ID, Email: u.Email, Organizer: u.Organizer}, now, s.cfg.TokenTTL)
	if err != nil {
		httpapi.Error(w, r, fmt.Errorf("issue session: %w", err))
		return
	}
	http.SetCookie(w, s.cookie(token, int(s.cfg.TokenTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.Respond(w, status, userJSON{ID: u.ID, Email: u.Email})
}

func (s *Service) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     session.CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.cfg.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	}
}

package web

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// What every page shares. The pages themselves are by resource: auth.go
// (sign up, in and out), tickets.go (the listings, selling and buying),
// events.go (events: browsing, buying, the organizer's forms), orders.go,
// held.go (my tickets, their codes and PDFs, with qr.go and ticketpdf.go)
// and door.go (check-in); the API calls they make are in api.go.

// begin starts a page: who the caller is (for the header) and their CSRF
// token (for the forms every page has, sign out included). On failure it has
// already answered.
func (s *Service) begin(w http.ResponseWriter, r *http.Request, title, nav string) (*view, bool) {
	u, err := s.api.CurrentUser(r)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	v := &view{Title: title, Nav: nav, User: u, CSRF: s.csrfToken(w, r)}
	// What the form that redirected here left: a confirmation, or the form
	// as typed with its problems. A page with a form of its own fills
	// v.Form only when this left none.
	if fl := s.takeFlash(w, r); fl != nil {
		v.Flash, v.Form = flashText(fl.Msg), fl.form()
	}
	return v, true
}

// beginSignedIn is begin for pages that need an account: a signed-out
// person is sent to sign in first.
func (s *Service) beginSignedIn(w http.ResponseWriter, r *http.Request, title, nav string) (*view, bool) {
	v, ok := s.begin(w, r, title, nav)
	if ok && v.User == nil {
		s.toSignIn(w, r)
		return nil, false
	}
	return v, ok
}

// seeOther is the redirect of post/redirect/get.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// passCookies hands the API's Set-Cookie headers (the session) to the
// browser.
func passCookies(w http.ResponseWriter, cookies []string) {
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
}

// typed is what the person typed in the named fields of the posted form
// (and nothing else, the CSRF token included), to show the form again as it
// was.
func typed(r *http.Request, fields ...string) url.Values {
	out := url.Values{}
	for _, f := range fields {
		if v, ok := r.PostForm[f]; ok {
			out[f] = v
		}
	}
	return out
}

// signedIn reports whether the caller has a valid session, as the API sees
// it.
func (s *Service) signedIn(r *http.Request) bool {
	u, err := s.api.CurrentUser(r)
	return err == nil && u != nil
}

// poll calls try until it reports done, for at most within: it waits first
// between tries, doubling the wait up to most. It gives up early when the
// person's request ends. Services learn of each other's records from
// events, a moment after the fact, so a page that acts across two of them
// waits for the second to catch up rather than show a spurious answer.
func poll(r *http.Request, within, first, most time.Duration, try func() (done bool)) {
	ctx, cancel := context.WithTimeout(r.Context(), within)
	defer cancel()
	wait := first
	for !try() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

// untilKnown calls call until it answers something other than 404, for a
// few seconds at most, as long as exists confirms that what it refers to is
// real. Without exists (or when it says no) the first answer stands.
func (s *Service) untilKnown(r *http.Request, call func() error, exists func() bool) error {
	var err error
	poll(r, 4*time.Second, 100*time.Millisecond, time.Second, func() bool {
		err = call()
		return statusOf(err) != http.StatusNotFound || !exists()
	})
	return err
}

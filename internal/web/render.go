package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// pageTemplate is one page: the shared layout plus the page's own file.
type pageTemplate struct{ t *template.Template }

// parsePages parses layout.html with each other template file; a page is
// named after its file ("index" for index.html).
func parsePages(funcs template.FuncMap) (map[string]*pageTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		pages[base] = &pageTemplate{t: t}
	}
	return pages, nil
}

func (s *Service) funcs() template.FuncMap {
	return template.FuncMap{
		"money":       formatMoney,
		"iso":         isoTime,
		"humanTime":   humanTime,
		"asset":       s.asset,
		"statusClass": statusClass,
		"orderWhen":   whenOf,
		"zoned":       zoned,
	}
}

// view is what every page template receives.
type view struct {
	Title string
	// Nav marks the header link of the current section (aria-current).
	Nav  string
	User *user
	CSRF string
	// Flash is a one-line confirmation after a redirect.
	Flash string
	// Form holds what was typed and the errors beside each field.
	Form *form
	// Data is the page's own content.
	Data any
	// Bare hides the account links (error pages built without the API).
	Bare bool
	// Stripe is the publishable key when Stripe.js is in use.
	Stripe string
	// Scripts are extra scripts of the page (besides app.js).
	Scripts []string
	// Refresh, when set, reloads the page every so many seconds (a meta
	// refresh: the waiting room works without JavaScript).
	Refresh int
	// Live, when set, reloads the page every so many seconds with or
	// without JavaScript (the organizer's view of an open waiting room).
	Live int
}

// form is a form's state when it is shown again: the values typed and the
// problems the API found, by field; General holds those of no field.
type form struct {
	Values  url.Values
	Errors  map[string]string
	General []string
}

func newForm(values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	return &form{Values: values, Errors: map[string]string{}}
}

// Value is what was typed in the field.
func (f *form) Value(field string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(field)
}

// Err is the problem with the field, or "".
func (f *form) Err(field string) string {
	if f == nil {
		return ""
	}
	return f.Errors[field]
}

// HasErrors reports whether anything is wrong.
func (f *form) HasErrors() bool { return f != nil && (len(f.Errors) > 0 || len(f.General) > 0) }

// addAPIError places the API's messages beside the fields the form has, in
// a person's words; the rest go to the top of the form.
func (f *form) addAPIError(err error, fields ...string) {
	var ae *apiError
	if !errors.As(err, &ae) {
		f.General = append(f.General, "Something went wrong. Please try again.")
		return
	}
	if len(ae.Errors) == 0 {
		f.General = append(f.General, humanize(ae.Status, fieldError{}))
	}
	for _, fe := range ae.Errors {
		msg := humanize(ae.Status, fe)
		placed := false
		for _, name := range fields {
			if fe.Field == name {
				if _, dup := f.Errors[name]; !dup {
					f.Errors[name] = msg
				}
				placed = true
			}
		}
		if !placed {
			f.General = append(f.General, msg)
		}
	}
}

// humanize rewords the API's terse messages where a person needs more.
func humanize(status int, fe fieldError) string {
	switch {
	case fe.Code == "too_many_pending_orders":
		return "You already hold the most unpaid orders allowed. Pay for or cancel one first."
	case status == http.StatusTooManyRequests && fe.Field == "":
		// Only the sign-in limits are "wait a minute"; the holds of orders
		// and the listings cap say what to do, and when, themselves.
		if fe.Code == "rate_limited" {
			return "Too many attempts. Please wait a minute and try again."
		}
		return sentence(fe.Message)
	case status == http.StatusPaymentRequired:
		// The provider's reason ("Your card has insufficient funds.") tells
		// the person what to do about it; the rest says the money is safe.
		reason := sentence(fe.Message)
		if reason == "" {
			reason = "Your card was declined."
		}
		return reason + " Nothing was charged; try another card."
	case fe.Code == "invalid_credentials":
		return "That email and password do not match an account."
	case fe.Code == "email_in_use":
		return "An account with this email already exists. Sign in instead?"
	case fe.Code == "ticket_reserved":
		return "Someone else is buying this ticket right now. If they do not pay in time, it will be back on sale."
	case fe.Code == "ticket_reserved_locked":
		return "This ticket is reserved by a buyer, so it cannot be changed right now."
	case fe.Code == "over_resale_cap":
		// The API names the cap in plain digits; the form shows it in
		// dollars beside the field.
		return "That price is above the organizer's resale cap for this event, the most one of its tickets may be resold for."
	case fe.Code == "ticket_checked_in":
		return "This ticket was already used at the door, so it cannot be resold."
	case fe.Code == "event_not_scheduled":
		return "The event was cancelled or has ended, so its tickets can no longer be resold."
	case fe.Message == "":
		return "Something went wrong. Please try again."
	}
	return sentence(fe.Message)
}

// sentence is msg trimmed and ending with a full stop ("" stays "").
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg != "" && !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// render executes a page into a buffer first, so a template failure is a
// clean error page rather than half a page.
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	p, ok := s.pages[name]
	if !ok {
		s.log.Error("web render", "page", name, "err", "no such page")
		s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	if v.Form == nil {
		v.Form = newForm(nil)
	}
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("web render", "page", name, "err", err)
		if name != "error" {
			s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		} else {
			http.Error(w, "Something went wrong", http.StatusInternalServerError)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages hold a person's data and their CSRF token: never cache them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

// renderError shows the friendly error page. It asks the API who the caller
// is only for the header; when that fails too, the header stays bare.
func (s *Service) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	v := &view{Title: heading, Data: errorData{Status: status, Heading: heading, Message: message}, Bare: true}
	if status != http.StatusServiceUnavailable {
		if u, err := s.api.CurrentUser(r); err == nil {
			v.User, v.Bare = u, false
			v.CSRF = s.csrfToken(w, r)
		}
	}
	s.render(w, r, status, "error", v)
}

func (s *Service) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "Page not found",
		"We could not find that page. The ticket or order may have been removed, or the link is mistyped.")
}

// handleNotFound answers every path no page matches. Under /api/ the
// caller is a program that missed the API's routes: it gets the API's JSON
// 404, not a page.
func (s *Service) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		httpapi.Error(w, r, fault.New(fault.NotFound, "Not found"))
		return
	}
	s.notFound(w, r)
}

// fail turns an error a page could not get past into the right answer: the
// sign-in page for 401, the 404 page, or the "try again shortly" page.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		return // the person left; nobody reads the answer
	case errors.Is(err, errUnavailable):
		s.log.Warn("web api unavailable", "path", r.URL.Path, "err", err)
		s.renderError(w, r, http.StatusServiceUnavailable, "We will be right back",
			"The marketplace is not answering right now. Please try again in a moment.")
	case statusOf(err) == http.StatusUnauthorized:
		s.toSignIn(w, r)
	case statusOf(err) == http.StatusNotFound:
		s.notFound(w, r)
	default:
		s.log.Error("web", "path", r.URL.Path, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
			"We could not finish that. Please try again in a moment.")
	}
}

// toSignIn sends a signed-out person to sign in, and back here afterwards.
func (s *Service) toSignIn(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Path
	if r.Method != http.MethodGet {
		next = r.Referer()
		if u, err := url.Parse(next); err == nil {
			next = u.Path
		}
	}
	target := "/auth/signin"
	if localPath(next) && next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath reports whether p is a path on this site, safe to redirect to.
// Browsers are lenient where a check by prefix is not: they drop tabs and
// newlines anywhere in a URL ("/\t/evil.example" becomes "//evil.example"),
// read a backslash as a slash, and take "//host" as another site. So p must
// parse as a URL with no scheme, host or user, start with exactly one slash
// both as written and once decoded ("/%2f/evil.example"), and hold no
// control character or backslash either way.
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || unsafeInPath(p) {
		return false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	return strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//") && !unsafeInPath(u.Path)
}

// unsafeInPath reports a backslash or a control character (tab, newline,
// NUL, DEL, C1), which a browser may drop or reinterpret.
func unsafeInPath(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || unicode.IsControl(r) })
}

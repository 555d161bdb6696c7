package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Every form posts here and is answered with a redirect (post/redirect/get),
// whatever the outcome: so reload or back never sends a form again. What
// the next page must say — a confirmation, or the form as typed with its
// problems — travels in the flash cookie: set on the redirect, read and
// cleared by the page it names. It is signed (HMAC-SHA256 with the web's
// cookie key) and expires within a minute, so nobody can make a browser
// show a message or a form of their choosing, and a link cannot carry one
// (as ?m= in the URL could).
const (
	flashCookie = "flash"
	flashTTL    = time.Minute
	// flashMax bounds the cookie: browsers drop cookies past 4 KB. Values
	// that would not fit (a pasted essay as a title) are left out; the
	// problems are kept.
	flashMax = 3000
)

// flashState is what a redirect hands the next page.
type flashState struct {
	// To is the path of the page it is for; another page ignores it.
	To string `json:"to"`
	// Msg names a confirmation (flashText); never text from a request.
	Msg     string            `json:"m,omitempty"`
	Values  url.Values        `json:"v,omitempty"`
	Errors  map[string]string `json:"e,omitempty"`
	General []string          `json:"g,omitempty"`
	// Exp is when it stops being honoured, in Unix seconds.
	Exp int64 `json:"x"`
}

// redirect answers a form: a 303 to to, with a confirmation msg (a
// flashText name, or "") and, when f is set, the form as typed with its
// problems, for the page at to to show once.
func (s *Service) redirect(w http.ResponseWriter, r *http.Request, to, msg string, f *form) {
	st := flashState{To: pathOf(to), Msg: msg, Exp: s.cfg.Now().Add(flashTTL).Unix()}
	if f != nil {
		st.Values, st.Errors, st.General = f.Values, f.Errors, f.General
	}
	if st.Msg != "" || f != nil {
		v := s.sealFlash(st)
		if len(v) > flashMax {
			st.Values = nil
			v = s.sealFlash(st)
		}
		http.SetCookie(w, s.flashCookie(v, int(flashTTL/time.Second)))
	}
	seeOther(w, r, to)
}

// takeFlash returns what the last redirect left for this page, or nil. It
// clears what it returns (it is shown once) and what is no good (forged or
// expired); a flash for another page is left for that page.
func (s *Service) takeFlash(w http.ResponseWriter, r *http.Request) *flashState {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	st, ok := s.openFlash(c.Value)
	if ok && st.To != r.URL.Path && s.cfg.Now().Unix() <= st.Exp {
		return nil
	}
	http.SetCookie(w, s.flashCookie("", -1))
	if !ok || s.cfg.Now().Unix() > st.Exp {
		return nil
	}
	return &st
}

func (s *Service) flashCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: flashCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteStrictMode}
}

// sealFlash encodes st as base64(JSON).base64(HMAC).
func (s *Service) sealFlash(st flashState) string {
	b, _ := json.Marshal(st) // plain strings and maps: never fails
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.flashMAC(payload))
}

// openFlash checks the signature in constant time before decoding anything.
func (s *Service) openFlash(v string) (flashState, bool) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return flashState{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.flashMAC(payload)) {
		return flashState{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return flashState{}, false
	}
	var st flashState
	if json.Unmarshal(b, &st) != nil {
		return flashState{}, false
	}
	return st, true
}

func (s *Service) flashMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.cookieKey)
	m.Write([]byte("flash\x00" + payload)) // the purpose, so no other use of the key can be replayed here
	return m.Sum(nil)
}

// newCookieKey is the key of a web client given none (tests, a lone
// process): its flashes do not outlive it, which costs a message at most.
func newCookieKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand documents it)
	return k
}

// pathOf is the decoded path of a local URL, as the page it leads to sees
// it in r.URL.Path ("/orders?x" is "/orders").
func pathOf(to string) string {
	u, err := url.Parse(to)
	if err != nil {
		return ""
	}
	return u.Path
}

// form is the flashed form, or nil when there is none.
func (st *flashState) form() *form {
	if st == nil || (st.Values == nil && st.Errors == nil && st.General == nil) {
		return nil
	}
	f := newForm(st.Values)
	if st.Errors != nil {
		f.Errors = st.Errors
	}
	f.General = st.General
	return f
}

// flashText is the confirmation a redirect names; the text never comes from
// the request.
func flashText(msg string) string {
	switch msg {
	case "welcome":
		return "Welcome! Your account is ready."
	case "signedin":
		return "You are signed in."
	case "signedout":
		return "You are signed out."
	case "listed":
		return "Your ticket is on sale."
	case "updated":
		return "Your listing was updated."
	case "withdrawn":
		return "Your ticket was withdrawn from sale."
	case "resale_listed":
		return "Your ticket is listed for resale. Your code still gets you in until someone buys it."
	case "resale_withdrawn":
		return "Your resale listing was withdrawn. The ticket is yours as before."
	case "transfer_sent":
		return "Transfer sent. Your code still gets you in until they accept it; you can cancel it until then."
	case "transfer_cancelled":
		return "Transfer cancelled. The ticket is yours as before."
	case "transfer_accepted":
		return "The ticket is yours. Its entry code is new: the sender's no longer works."
	case "paid":
		return "Payment received. The ticket is yours!"
	case "paying":
		return "Payment received. Your order will show as complete in a moment."
	case "processing":
		return "Your payment is being processed. Reload this page in a moment to see whether it went through."
	case "refunded":
		return "This order was cancelled before your payment could complete it, so the ticket is not yours. Your payment is being refunded in full."
	case "cancelled":
		return "Order cancelled. The ticket is back on sale."
	case "event_created":
		return "Your event is created. Its tickets go on sale at the on-sale time."
	case "event_updated":
		return "Your event was updated."
	case "event_cancelled":
		return "The event is cancelled. Its tickets are no longer sold and their codes are void."
	case "staff_added":
		return "Door staff added. They can check tickets in once signed in with that email."
	case "payouts_connected":
		return "Your payout account is connected."
	case "staff_removed":
		return "Door staff removed."
	}
	return ""
}

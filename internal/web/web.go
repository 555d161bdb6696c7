// Package web is the server-rendered client of Ticketing: the pages a person
// uses to buy and sell tickets (DESIGN.md section 6). It owns no data: every
// page calls the HTTP API through the gateway with the caller's cookie, as
// the original's Next.js getInitialProps did, and every form posts back here,
// where the handler calls the API and redirects (post/redirect/get). So every
// flow works without JavaScript; the small embedded script only runs the
// order countdown and shows times in the reader's locale.
//
// Pages are html/template files and static assets embedded in the binary:
// no Node toolchain, nothing loaded from another origin unless a Stripe
// publishable key is configured.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"github.com/ticketing/ticketing/internal/platform/money"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the web client needs from its environment.
type Config struct {
	// APIBase is the base URL of the gateway, e.g. "http://gateway:8080".
	APIBase string
	// Transport carries the API calls; nil means a transport of its own to
	// the gateway (keep-alive, up to 128 idle connections). In
	// `up` it calls the gateway handler in the same process.
	Transport http.RoundTripper
	// StripePublishableKey switches the order page from the sandbox card
	// form to Stripe.js; empty means nothing is loaded from outside.
	StripePublishableKey string
	// CookieSecure marks the CSRF and flash cookies Secure (serve behind
	// TLS).
	CookieSecure bool
	// CookieKey signs the web's own cookie (the flash of flash.go). Every
	// replica needs the same one, or a redirect served by one would lose its
	// message on another; cmd derives it from JWT_KEY, so the web never
	// holds the key that signs sessions. Empty means a random key of this
	// process.
	CookieKey []byte
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES: the gateway and any load balancer in front): the
	// browser's address found with them is what the API calls name.
	TrustedProxies []netip.Prefix
	// Fee is the buyer's service fee (SERVICE_FEE_PERCENT,
	// SERVICE_FEE_CENTS), which the ticket page adds to the price before
	// the buyer reserves; the order then shows the fee orders took.
	Fee money.FeeRule
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the pages.
type Service struct {
	log    *slog.Logger
	cfg    Config
	api    *apiClient
	pages  map[string]*pageTemplate
	static fs.FS
	// assets names every static file by its content: "style.css" is served
	// as "style.1a2b3c4d5e6f.css", so a browser may keep it for a year and a
	// new build, which changes the name, is fetched at once.
	assets   staticAssets
	csp      string
	compress func(http.Handler) http.HandlerFunc
	// cookieKey signs the flash cookie (flash.go).
	cookieKey []byte
}

// staticAssets maps the embedded files' names to their hashed names and
// back.
type staticAssets struct {
	hashed map[string]string // "style.css" → "style.1a2b3c4d5e6f.css"
	file   map[string]string // "style.1a2b3c4d5e6f.css" → "style.css"
}

// New builds the web client. It panics if the embedded templates do not
// parse: they are part of the binary, so that is a programming error caught
// by the package's tests, never a runtime condition.
func New(log *slog.Logger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key := cfg.CookieKey
	if len(key) == 0 {
		key = newCookieKey()
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.APIBase, "/"))
	if err != nil {
		panic("web: bad APIBase " + cfg.APIBase + ": " + err.Error())
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	compress, err := newCompressor()
	if err != nil {
		panic(err)
	}
	s := &Service{
		log:       log,
		cfg:       cfg,
		api:       newAPIClient(base, cfg.Transport, cfg.TrustedProxies),
		static:    static,
		assets:    hashAssets(static),
		csp:       contentSecurityPolicy(cfg.StripePublishableKey != ""),
		compress:  compress,
		cookieKey: key,
	}
	pages, err := parsePages(s.funcs())
	if err != nil {
		panic(err)
	}
	s.pages = pages
	return s
}

// hashAssets reads every embedded static file once at start and names it
// by the first 48 bits of its SHA-256: "style.css" becomes
// "style.1a2b3c4d5e6f.css" (the extension stays last, so the type is still
// known by it).
func hashAssets(static fs.FS) staticAssets {
	a := staticAssets{hashed: map[string]string{}, file: map[string]string{}}
	fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		h := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.hashed[name], a.file[h] = h, name
		return nil
	})
	return a
}

// newCompressor compresses the answers worth it, the pages, their styles and
// scripts, the SVG icon and JSON (the API's 404 under /api), from 1 KiB up
// (below that the headers outweigh the saving), with zstd or gzip as the
// browser accepts (zstd preferred), through klauspost/compress's gzhttp.
// Any other type (an image already compressed, should one be added) is
// sent as it is.
//
// Pages carry a CSRF token beside text a person typed: the token is masked
// afresh in every response (csrf.go), so compression has no secret to
// reveal (BREACH); docs/ARCHITECTURE.md says why that suffices.
func newCompressor() (func(http.Handler) http.HandlerFunc, error) {
	return gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.ContentTypes([]string{
		"text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml", "application/json",
	}))
}

// Routes registers every page on mux. The catch-all "/" renders the HTML
// 404 page, so a person never meets a JSON or plain-text error.
func (s *Service) Routes(mux *http.ServeMux) {
	page := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.compress(s.secure(h)))
	}
	// Forms are also checked for a same-origin request here, in case the web
	// client is reached without the gateway in front (serve web).
	form := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.compress(s.secure(s.sameOrigin(s.checkCSRF(h)))))
	}
	page("GET /{$}", s.handleIndex)
	page("GET /auth/signup", s.handleSignUpForm)
	form("POST /auth/signup", s.handleSignUp)
	page("GET /auth/signin", s.handleSignInForm)
	form("POST /auth/signin", s.handleSignIn)
	page("GET /auth/signout", s.handleSignOutForm)
	form("POST /auth/signout", s.handleSignOut)
	page("GET /tickets/new", s.handleTicketNewForm)
	form("POST /tickets/new", s.handleTicketCreate)
	page("GET /tickets/mine", s.handleMyTickets)
	page("GET /tickets/{id}", s.handleTicketShow)
	page("GET /tickets/{id}/pdf", s.handleTicketPDF)
	form("POST /tickets/{id}/purchase", s.handleTicketPurchase)
	form("POST /tickets/{id}/resale", s.handleResaleList)
	form("POST /tickets/{id}/resale/withdraw", s.handleResaleWithdraw)
	form("POST /tickets/{id}/transfer", s.handleTransferStart)
	page("GET /tickets/{id}/history", s.handleTicketHistory)
	form("POST /transfers/{id}/accept", s.handleTransferAccept)
	form("POST /transfers/{id}/cancel", s.handleTransferCancel)
	form("POST /tickets/{id}/withdraw", s.handleTicketWithdraw)
	page("GET /tickets/{id}/edit", s.handleTicketEditForm)
	form("POST /tickets/{id}/edit", s.handleTicketUpdate)
	page("GET /orders", s.handleOrderList)
	page("GET /orders/{id}", s.handleOrderShow)
	form("POST /orders/{id}/pay", s.handleOrderPay)
	form("POST /orders/{id}/cancel", s.handleOrderCancel)
	page("GET /listings", s.handleListings)
	page("GET /events", s.handleEventList)
	page("GET /events/mine", s.handleMyEvents)
	page("GET /events/new", s.handleEventNewForm)
	form("POST /events/new", s.handleEventCreate)
	page("GET /events/{id}", s.handleEventShow)
	form("POST /events/{id}/buy", s.handleEventBuy)
	page("GET /events/{id}/queue", s.handleQueueShow)
	form("POST /events/{id}/queue", s.handleQueueJoin)
	page("GET /events/{id}/edit", s.handleEventEditForm)
	form("POST /events/{id}/edit", s.handleEventUpdate)
	page("GET /events/{id}/cancel", s.handleEventCancelForm)
	form("POST /events/{id}/cancel", s.handleEventCancel)
	form("POST /events/{id}/staff", s.handleStaffAdd)
	form("POST /events/{id}/staff/remove", s.handleStaffRemove)
	page("GET /events/{id}/checkin", s.handleDoor)
	form("POST /events/{id}/checkin", s.handleDoorCheck)
	page("GET /payouts", s.handlePayouts)
	form("POST /payouts/connect", s.handlePayoutsConnect)
	page("GET /payouts/onboard", s.handlePayoutsOnboard)
	page("GET /static/", s.handleStatic)
	page("/", s.handleNotFound)
}

// contentSecurityPolicy allows nothing but this origin: no inline script or
// style, no third-party asset. With Stripe configured the order page needs
// Stripe.js, its frames and its API, and nothing else.
func contentSecurityPolicy(stripe bool) string {
	script, frame, connect := "'self'", "", ""
	if stripe {
		script += " https://js.stripe.com"
		frame = "; frame-src https://js.stripe.com https://hooks.stripe.com"
		connect = "; connect-src 'self' https://api.stripe.com"
	}
	return "default-src 'self'; script-src " + script + "; style-src 'self'; img-src 'self' data:" +
		frame + connect + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// secure adds the security headers every response of the web client
// carries, pages, assets and errors alike.
func (s *Service) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a form posted from another site (Sec-Fetch-Site,
// Origin), with the friendly error page rather than a bare 403.
func (s *Service) sameOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, "Request refused",
			"This form was sent from another website, so we did not act on it.")
	}))
	return cop.Handler(next)
}

// handleStatic serves the embedded assets by their hashed names, to be
// cached for a year: a new build changes the name. A hash that is not the
// current one is a 404 (there is no older file to serve). The plain name
// ("/static/style.css", or the "?v=" links of earlier versions) redirects to
// the current hashed one, temporarily: the target changes with each build.
func (s *Service) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if file, ok := s.assets.file[name]; ok {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeFileFS(w, r, s.static, file)
		return
	}
	if _, ok := s.assets.hashed[name]; ok {
		w.Header().Set("Cache-Control", "no-cache")
		http.Redirect(w, r, s.asset(name), http.StatusFound)
		return
	}
	s.handleNotFound(w, r)
}

// asset is the URL of a static file, named by its content (the template
// function "asset").
func (s *Service) asset(name string) string {
	if h, ok := s.assets.hashed[name]; ok {
		return "/static/" + h
	}
	return "/static/" + name // no such file: a 404, as the page tests would show
}

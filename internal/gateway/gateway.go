// Package gateway is the system's front door (the ingress of the original):
// it routes /api/users to auth, /api/tickets to tickets, /api/orders to
// orders, /api/payments to payments and everything else to web, and refuses
// state-changing API requests that come from another origin.
//
// In `ticketing up` the routes point at the services' handlers in the same
// process; in `ticketing serve gateway` they are reverse proxies to the
// services' URLs. The routing is the same code either way.
package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// Route sends requests whose path is Prefix or lies under it to Handler.
type Route struct {
	Prefix  string
	Handler http.Handler
}

// New returns the gateway: the routes by path prefix (the longest match
// wins), then fallback. A cross-origin POST, PUT, DELETE… to a route is
// refused with a JSON 403 (the standard library's CrossOriginProtection,
// which reads Sec-Fetch-Site and Origin). The fallback, the web client,
// gets its requests as they came: it refuses a form posted from another
// site itself, with the same check, on its error page: a person should
// meet a page, not JSON.
func New(routes []Route, fallback http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Respond(w, http.StatusForbidden, httpapi.ErrorBody{Errors: []httpapi.ErrorItem{{
			Message: "Cross-origin request refused"}}})
	}))
	mux := http.NewServeMux()
	for _, r := range routes {
		p := strings.TrimSuffix(r.Prefix, "/")
		h := cop.Handler(r.Handler)
		mux.Handle(p, h)
		mux.Handle(p+"/", h)
	}
	mux.Handle("/", fallback)
	return mux
}

// Proxy forwards requests to target, adding X-Forwarded-For/-Host/-Proto so
// the service can find the client's address (it must list the gateway in
// TRUSTED_PROXIES). A client's own X-Forwarded-For is dropped unless the
// client is itself a trusted proxy — the web client calling the API on a
// browser's behalf, or a load balancer in front — so rate limits count
// browsers, not the web server. An unreachable service is a JSON 503.
func Proxy(target *url.URL, trusted []netip.Prefix, log *slog.Logger) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if httpapi.PeerTrusted(pr.In, trusted) {
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			}
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("proxy", "target", target.String(), "path", r.URL.Path, "err", err)
			httpapi.Error(w, r, fault.New(fault.Unavailable, "Service unavailable, try again shortly"))
		},
	}
}

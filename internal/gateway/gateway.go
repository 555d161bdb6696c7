// Package gateway is the system's front door (the ingress of the original):
// it routes /api/users to auth, /api/tickets, /api/checkins and /api/transfers to tickets, /api/orders to
// orders, /api/payments to payments, /api/events to events and everything
// else to web (the routes come from cmd/ticketing's catalog), and refuses
// state-changing API requests that come from another origin.
//
// In `ticketing up` the routes point at the services' handlers in the same
// process; in `ticketing serve gateway` they are reverse proxies to the
// services' URLs, balanced over each part's replicas (Balancer). The
// routing is the same code either way.
package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzhttp"
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
//
// API answers in JSON of 1 KiB and more are compressed (zstd or gzip, as
// the client accepts) here, at the one door every API request passes in
// `up` and `serve` alike, so no service needs to. No API body holds a
// secret (the session travels only in its cookie) to leak through the
// compressed size. The fallback's answers are left alone: the web client
// compresses its own, and knows which.
func New(routes []Route, fallback http.Handler) http.Handler {
	compress, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.ContentTypes([]string{"application/json"}))
	if err != nil {
		panic(err) // the options are constants: a programming error
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Respond(w, http.StatusForbidden, httpapi.ErrorBody{Errors: []httpapi.ErrorItem{{
			Message: "Cross-origin request refused", Code: "cross_origin"}}})
	}))
	mux := http.NewServeMux()
	for _, r := range routes {
		p := strings.TrimSuffix(r.Prefix, "/")
		h := compress(cop.Handler(r.Handler))
		mux.Handle(p, h)
		mux.Handle(p+"/", h)
	}
	mux.Handle("/", fallback)
	return mux
}

// Proxy forwards requests to one of b's backends, adding
// X-Forwarded-Host/-Proto and an X-Forwarded-For that names the client
// alone (the service must list the gateway in TRUSTED_PROXIES). The client
// is found with the gateway's own trusted proxies (httpapi.ClientAddr): a
// load balancer in front, or the web client calling the API on a browser's
// behalf, may name it; anyone else's X-Forwarded-For is ignored. Naming one
// address rather than passing the chain on means the services need trust
// only the gateway and the web client, not the load balancer, and still
// count browsers, not proxies. An unreachable service is a JSON 503.
func Proxy(b *Balancer, trusted []netip.Prefix, log *slog.Logger) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The path is joined with the first backend's; the balancer
			// sets the scheme and host of the one it picks.
			pr.SetURL(b.backends[0].url)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-For", httpapi.ClientAddr(pr.In, trusted))
			pr.Out.Host = pr.In.Host
		},
		Transport:  b,
		BufferPool: copyBuffers,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("proxy", "part", b.name, "path", r.URL.Path, "err", err)
			httpapi.Error(w, r, fault.New(fault.Unavailable, "Service unavailable, try again shortly"))
		},
	}
}

// copyBuffers are the buffers every Proxy copies answers through. Without
// a pool the reverse proxy makes a fresh 32 KiB buffer per request, which
// was two thirds of the gateway's allocation and much of its garbage
// collection (docs/PERFORMANCE.md).
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/session"
)

type tokenKey struct{}

// UserFrom returns the signed-in caller, if any.
func UserFrom(ctx context.Context) (session.User, bool) {
	t, ok := TokenFrom(ctx)
	return t.User, ok
}

// TokenFrom returns the caller's verified session token, if any (sign-out
// revokes it by its id).
func TokenFrom(ctx context.Context) (session.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(session.Token)
	return t, ok
}

// WithUser returns ctx carrying u, as if signed in with a token of no id
// (for tests).
func WithUser(ctx context.Context, u session.User) context.Context {
	return WithToken(ctx, session.Token{User: u})
}

// WithToken returns ctx carrying the verified token t (used by
// CurrentUser).
func WithToken(ctx context.Context, t session.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// CurrentUser verifies the session cookie, when there is one, and puts the
// user in the request context. A missing, forged, expired or signed-out
// token is simply no user: routes that need one answer 401 through
// RequireUser.
func CurrentUser(v session.Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie(session.CookieName); err == nil && c.Value != "" {
				if t, err := v.Verify(c.Value); err == nil {
					r = r.WithContext(WithToken(r.Context(), t))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ErrNotSignedIn is the 401 of every route that needs a user.
var ErrNotSignedIn = fault.New(fault.Unauthorized, "Not authorized")

// RequireUser answers 401 unless CurrentUser found a user.
func RequireUser(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); !ok {
			Error(w, r, ErrNotSignedIn)
			return
		}
		next(w, r)
	}
}

type logInfo struct {
	err   error
	quiet bool
}

type logKey struct{}

func recordError(r *http.Request, err error) {
	if info, ok := r.Context().Value(logKey{}).(*logInfo); ok {
		info.err = err
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on (through any wrappers below): a wrapper above
// that looks for http.Flusher, as the gateway's compression does, would
// otherwise hold a server-sent-event stream until it ends.
func (s *statusWriter) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// quiet marks r as logged elsewhere: a 5xx that a probe asks for every
// few seconds (a failed /readyz) is logged where it changes, not per request.
func quiet(r *http.Request) {
	if info, ok := r.Context().Value(logKey{}).(*logInfo); ok {
		info.quiet = true
	}
}

// Log logs one line per request, at Error level with the error for a 500,
// at Warn level with the cause for a 503 (a dependency down: expected
// during an outage, not a bug), and recovers a panicking handler into a
// 500.
func Log(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &logInfo{}
			sw := &statusWriter{ResponseWriter: w}
			r = r.WithContext(context.WithValue(r.Context(), logKey{}, info))
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", p)
					if sw.status == 0 {
						Error(sw, r, nil)
					}
				}
				attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status,
					"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
				switch {
				case info.quiet: // a failed probe: logged where it changes
					log.Debug("request", attrs...)
				case sw.status == http.StatusServiceUnavailable:
					if info.err != nil {
						attrs = append(attrs, "err", info.err)
					}
					log.Warn("request", attrs...)
				case info.err != nil:
					log.Error("request", append(attrs, "err", info.err)...)
				case sw.status >= 500:
					log.Error("request", attrs...)
				default:
					log.Debug("request", attrs...)
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// ClientAddr returns the caller's IP address. X-Forwarded-For is believed
// only when the direct peer is one of the trusted proxies; then the
// right-most address not itself a trusted proxy is the client.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	host := peerHost(r)
	if !PeerTrusted(r, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

// AddrKey is the key by which per-address limits count a client address
// (as ClientAddr returns it). An IPv6 client usually holds a whole /64, so
// it counts as one: otherwise it could rotate through 2^64 addresses, each
// with a fresh budget. An IPv4 address (or an IPv4-mapped IPv6 one) is
// itself; anything unparsable is returned as it is.
func AddrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// PeerTrusted reports whether the direct peer of r is one of the trusted
// proxies, whose X-Forwarded-For may be believed and passed on.
func PeerTrusted(r *http.Request, trusted []netip.Prefix) bool {
	peer, err := netip.ParseAddr(peerHost(r))
	return err == nil && isTrusted(peer.Unmap(), trusted)
}

func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses a comma-separated list of CIDRs (or single
// addresses), as in TRUSTED_PROXIES.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Observe calls obs after next answers each request, with the route
// pattern matched ("none" for a path no route claims), the status and the
// time taken. The route is what an *http.ServeMux records on the request
// it is given, so next must be the mux or pass the request on to it
// unchanged (as JSONFallback does): the label set stays as small as the
// route table.
func Observe(next http.Handler, obs func(route string, status int, took time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route, status := r.Pattern, sw.status
			if route == "" {
				route = "none"
			}
			if status == 0 {
				status = http.StatusOK
			}
			obs(route, status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

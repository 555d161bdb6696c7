package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// JSONFallback wraps mux so that a request no route matches gets a JSON
// 404, and a known path with the wrong method a JSON 405 with Allow, instead
// of the standard library's plain-text answers.
func JSONFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.header.Get("Allow"))
			Respond(w, http.StatusMethodNotAllowed, ErrorBody{Errors: []ErrorItem{{Message: "Method not allowed", Code: "method_not_allowed"}}})
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			mux.ServeHTTP(w, r) // path cleaning redirects
		default:
			Error(w, r, fault.New(fault.NotFound, "Not found"))
		}
	})
}

// headerProbe records what the mux's own not-found or not-allowed handler
// would answer, without writing it.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

// Check is a named readiness check (the database, draining).
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Probes is what a process's health endpoints ask.
type Probes struct {
	// Ready are the checks of GET /readyz: can this process serve HTTP
	// (its databases answer, it is not draining). The bus is not among
	// them: the outbox keeps the API working while the bus is away, and a
	// NATS blip must not take every replica out of its Service at once.
	Ready []Check
	// Bus, when set, is GET /healthz/bus: whether the process reaches
	// NATS (also the ticketing_bus_connected gauge).
	Bus func(context.Context) error
	// Log, when set, is told when readiness changes, once per change:
	// a probe every few seconds must not log an error each time.
	Log *slog.Logger
}

// Health registers GET /healthz (the process is alive), GET /readyz (every
// ready check passes within two seconds) and, with p.Bus, GET /healthz/bus
// on mux.
func Health(mux *http.ServeMux, p Probes) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		Respond(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	var (
		mu   sync.Mutex
		last string // the failed checks' names at the last probe; "" when ready
	)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		failed := map[string]string{}
		var names []string
		for _, c := range p.Ready {
			if err := c.Check(ctx); err != nil {
				failed[c.Name] = err.Error()
				names = append(names, c.Name)
			}
		}
		mu.Lock()
		now := strings.Join(names, ",")
		changed := now != last
		last = now
		mu.Unlock()
		if changed && p.Log != nil {
			if len(failed) > 0 {
				p.Log.Warn("not ready", "failed", failed)
			} else {
				p.Log.Info("ready again")
			}
		}
		if len(failed) > 0 {
			quiet(r) // said above, once per change
			Respond(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
			return
		}
		Respond(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if p.Bus != nil {
		mux.HandleFunc("GET /healthz/bus", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := p.Bus(ctx); err != nil {
				quiet(r) // the gauge and the bus's own logs say it
				Respond(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
				return
			}
			Respond(w, http.StatusOK, map[string]string{"status": "ok"})
		})
	}
}

// Edge is what stands in front of every service's JSON API, in the wiring
// and in the services' tests alike: request logging with panic recovery,
// the current user from the session cookie, route metrics when observe is
// set, and JSON answers for unknown paths and wrong methods. It knows of no
// revoked session; the wiring uses EdgeVerifying with the process's set.
func Edge(mux *http.ServeMux, log *slog.Logger, key []byte, now func() time.Time, observe func(route string, status int, took time.Duration)) http.Handler {
	return EdgeVerifying(mux, log, session.Verifier{Key: key, Now: now}, observe)
}

// EdgeVerifying is Edge with the session verifier given, revocations
// included.
func EdgeVerifying(mux *http.ServeMux, log *slog.Logger, v session.Verifier, observe func(route string, status int, took time.Duration)) http.Handler {
	h := JSONFallback(mux)
	if observe != nil {
		h = Observe(h, observe)
	}
	return Log(log)(CurrentUser(v)(h))
}

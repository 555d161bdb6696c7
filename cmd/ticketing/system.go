package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/metrics"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// What `up` (up.go) and `serve` (serve.go) both build a process from; the
// running process itself is App (app.go).

// infra is what every part is built from.
type infra struct {
	cfg     Config
	log     *slog.Logger
	bus     *natsbus.Bus // nil for parts that need none (gateway)
	key     []byte
	trusted []netip.Prefix
	// apiBase and api are how the web client reaches the gateway: in `up`
	// an in-process transport, in `serve web` GATEWAY_URL over the network.
	apiBase string
	api     http.RoundTripper
	metrics *metrics.Metrics
	// revoked is this process's set of signed-out sessions, which every
	// part's edge checks (fed by followRevocations).
	revoked *session.Revocations
	// tokens are the sessions this process's edges have verified, shared
	// by the parts of `up` (session.Cache).
	tokens *session.Cache
	// sandboxJournal is where the sandbox provider keeps its journal
	// (payments.NewSandboxAt): in the data dir when the process keeps its
	// state there, "" (in memory) otherwise.
	sandboxJournal string
}

// sandboxJournalFile is the sandbox provider's journal in the data dir.
const sandboxJournalFile = "sandbox-provider.jsonl"

// part is one service as the wiring sees it, whatever runs it.
type part struct {
	name      string
	db        *sqldb.DB
	ob        *outbox.Outbox
	routes    func(*http.ServeMux)
	listeners []natsbus.Listener
	// run is a background loop of the part (the payments reconciler, the
	// orders sweep), stopped by cancelling its context before the relays
	// stop.
	run   func(context.Context)
	close func() error
	// raw parts (the web client) serve HTML and handle their own 404s and
	// sessions: they get only request logging, not the JSON API edge.
	raw bool
}

// openDB opens the service's own database: a schema of DATABASE_URL, or
// <data dir>/<service>.db.
func (in infra) openDB(ctx context.Context, service string, migs ...sqldb.Migrations) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, sqldb.Config{
		URL:        in.cfg.DatabaseURL,
		Path:       filepath.Join(in.cfg.DataDir, service+".db"),
		Schema:     service,
		Migrations: migs,
		SyncFull:   in.cfg.Fsync == "always",
	})
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", service, err)
	}
	return db, nil
}

// checks are the readiness checks of the parts: their databases. The bus
// is not one of them (DESIGN.md section 2): probes reports it apart.
func checks(parts []*part) []httpapi.Check {
	// Never nil: a part with nothing to check (web) still answers /readyz.
	cs := []httpapi.Check{}
	for _, p := range parts {
		if p.db != nil {
			cs = append(cs, httpapi.Check{Name: p.name + "_db", Check: p.db.Ping})
		}
	}
	return cs
}

// probes are the health endpoints of a process named service: ready when
// its databases answer and it is not draining; the bus, when it has one,
// on /healthz/bus and as the ticketing_bus_connected gauge.
func (a *App) probes(service string, parts []*part) httpapi.Probes {
	p := httpapi.Probes{Ready: append(checks(parts), a.drainCheck()), Log: a.log}
	if a.bus != nil {
		p.Bus = a.bus.Ping
		a.metrics.Gauge(service, "ticketing_bus_connected",
			"1 while the process reaches NATS, 0 while it does not: events wait in the outbox "+
				"and deliveries pause, while the HTTP API keeps serving.",
			func(ctx context.Context) (float64, error) {
				if a.bus.Ping(ctx) != nil {
					return 0, nil
				}
				return 1, nil
			})
	}
	return p
}

// handler is a part's HTTP API with the edge middleware every service uses.
func (in infra) handler(p *part, health *httpapi.Probes) http.Handler {
	mux := http.NewServeMux()
	if p.routes != nil {
		p.routes(mux)
	}
	if health != nil {
		httpapi.Health(mux, *health)
	}
	log, observe := in.log.With("service", p.name), in.metrics.Request(p.name)
	if p.raw {
		return httpapi.Log(log)(httpapi.Observe(mux, observe))
	}
	return httpapi.EdgeVerifying(mux, log, session.Verifier{Key: in.key, Now: time.Now, Revoked: in.revoked, Cache: in.tokens}, observe)
}

// connectBus connects to NATS and makes sure of the TICKETING stream, and
// of SESSIONS for a process that follows session revocations (one with an
// API): the others have no business with it, nor any permission on it.
func connectBus(ctx context.Context, cfg Config, log *slog.Logger, followsSessions bool) (*natsbus.Bus, error) {
	var streams []natsbus.StreamConfig
	if followsSessions {
		streams = append(streams, natsbus.StreamConfig{
			Name:     events.SessionsStream,
			Subjects: events.SessionsStreamSubjects,
			Replicas: cfg.StreamReplicas,
			// The server forgets a revocation once no token it names can
			// still be alive: what a process replays at start.
			MaxAge: revocationsKept,
		})
	}
	return natsbus.Connect(ctx, natsbus.Config{
		URL:        cfg.NATSURL,
		DataDir:    cfg.DataDir,
		SyncAlways: cfg.Fsync == "always",
		Name:       "ticketing",
		User:       cfg.NATSUser,
		Password:   cfg.NATSPassword,
		CAFile:     cfg.NATSCAFile,
		Stream: natsbus.StreamConfig{
			Name:      events.Stream,
			Subjects:  events.StreamSubjects,
			Replicas:  cfg.StreamReplicas,
			Schedules: true, // expiration's jobs
		},
		Streams:     streams,
		ScheduledBy: events.ScheduledBy,
	}, log)
}

func newInfra(cfg Config, log *slog.Logger, key []byte) (infra, error) {
	trusted, err := httpapi.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return infra{}, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return infra{cfg: cfg, log: log, key: key, trusted: trusted, metrics: metrics.New(), revoked: session.NewRevocations(),
		tokens: session.NewCache(key, session.DefaultCacheSize)}, nil
}

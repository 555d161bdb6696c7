package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/gateway"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/metrics"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

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
}

// part is one service as the wiring sees it, whatever runs it.
type part struct {
	name      string
	db        *sqldb.DB
	ob        *outbox.Outbox
	routes    func(*http.ServeMux)
	listeners []natsbus.Listener
	// run is a background loop of the part (the payments reconciler),
	// stopped by cancelling its context before the relays stop.
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

// checks are the readiness checks of the parts and the bus.
func checks(bus *natsbus.Bus, parts []*part) []httpapi.Check {
	// Never nil: a part with nothing to check (web) still answers /readyz.
	cs := []httpapi.Check{}
	if bus != nil {
		cs = append(cs, httpapi.Check{Name: "nats", Check: bus.Ping})
	}
	for _, p := range parts {
		if p.db != nil {
			cs = append(cs, httpapi.Check{Name: p.name + "_db", Check: p.db.Ping})
		}
	}
	return cs
}

// handler is a part's HTTP API with the edge middleware every service uses.
func (in infra) handler(p *part, health []httpapi.Check) http.Handler {
	mux := http.NewServeMux()
	if p.routes != nil {
		p.routes(mux)
	}
	if health != nil {
		httpapi.Health(mux, health...)
	}
	log, observe := in.log.With("service", p.name), in.metrics.Request(p.name)
	if p.raw {
		return httpapi.Log(log)(httpapi.Observe(mux, observe))
	}
	return httpapi.EdgeVerifying(mux, log, session.Verifier{Key: in.key, Now: time.Now, Revoked: in.revoked}, observe)
}

// App is a running process: an HTTP server in front of some parts, their
// consumers and relays, the bus and the databases.
type App struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	// servers serve the main address and, when METRICS_ADDR is set,
	// /metrics on metricsLn.
	servers   []*http.Server
	ln        net.Listener
	metricsLn net.Listener
	serveErr  chan error
	bus       *natsbus.Bus
	parts     []*part
	listening []*natsbus.Listening
	following *natsbus.Following // session.revoked, when the process verifies sessions
	relays    sync.WaitGroup
	stopRelay context.CancelFunc
	runs      sync.WaitGroup
	stopRuns  context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// start runs the parts' relays and consumers and serves h on cfg.Addr,
// with /metrics there or on cfg.MetricsAddr.
func (a *App) start(ctx context.Context, cfg Config, h http.Handler) error {
	relayCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopRelay = cancel
	runCtx, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	a.stopRuns = stopRuns
	for _, p := range a.parts {
		if p.ob != nil {
			a.metrics.Outbox(p.name, p.ob.Published, p.ob.Pending)
			a.relays.Go(func() { p.ob.Run(relayCtx) })
		}
		if p.run != nil {
			a.runs.Go(func() { p.run(runCtx) })
		}
		if len(p.listeners) > 0 {
			l, err := a.bus.Listen(ctx, p.name, p.listeners, natsbus.ListenConfig{Observe: a.metrics.Handled})
			if err != nil {
				return fmt.Errorf("%s listeners: %w", p.name, err)
			}
			a.listening = append(a.listening, l)
			a.metrics.ConsumersPending(p.name, l.Pending)
		}
	}
	a.serveErr = make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	if cfg.MetricsAddr != "" {
		ln, err := a.listen(cfg.MetricsAddr, mux)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		a.metricsLn = ln
		mux = http.NewServeMux()
	}
	mux.Handle("/", h)
	ln, err := a.listen(cfg.Addr, mux)
	a.ln = ln
	return err
}

// listen serves h on addr until Close.
func (a *App) listen(addr string, h http.Handler) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.servers = append(a.servers, srv)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			select {
			case a.serveErr <- err:
			default:
			}
		}
	}()
	return ln, nil
}

// Addr is the address the server listens on (useful with port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// MetricsAddr is where /metrics is served when METRICS_ADDR is set, else "".
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// Wait blocks until ctx is done or the server fails, then shuts down.
func (a *App) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-a.serveErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	return errors.Join(err, a.Close(shutdownCtx))
}

// Close shuts down in reverse order of dependence: stop accepting and finish
// in-flight requests, finish in-flight messages, stop the background loops,
// flush the outboxes, then close the bus and the databases.
//
// Close is idempotent: a test's cleanup and a signal may both call it, and
// the second call returns the first one's result.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() { a.closeErr = a.close(ctx) })
	return a.closeErr
}

func (a *App) close(ctx context.Context) error {
	var errs []error
	for _, srv := range a.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	for _, l := range a.listening {
		l.Stop()
	}
	if a.following != nil {
		a.following.Stop()
	}
	if a.stopRuns != nil {
		a.stopRuns()
	}
	a.runs.Wait()
	if a.stopRelay != nil {
		a.stopRelay()
	}
	a.relays.Wait()
	for _, p := range a.parts {
		if p.close != nil {
			errs = append(errs, p.close())
		}
	}
	if a.bus != nil {
		a.bus.Close()
	}
	for _, p := range a.parts {
		if p.db != nil {
			errs = append(errs, p.db.Close())
		}
	}
	a.log.Info("stopped")
	return errors.Join(errs...)
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

// Up starts the whole system in one process: embedded NATS (unless NATS_URL
// is set), a SQLite file per service (unless DATABASE_URL is set), every
// service mounted in-process behind the gateway.
func Up(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	app := &App{log: log}
	defer func() {
		if err != nil {
			app.Close(context.WithoutCancel(ctx))
		}
	}()
	if err := checkJWTKey(cfg.JWTKey, modeUp); err != nil {
		return nil, err
	}
	// The data dir holds whatever is not elsewhere: the SQLite files, the
	// embedded NATS store, the generated key.
	if cfg.DatabaseURL == "" || cfg.NATSURL == "" || cfg.JWTKey == "" {
		if err := prepareDataDir(cfg.DataDir, log); err != nil {
			return nil, err
		}
	}
	key := []byte(cfg.JWTKey)
	if len(key) == 0 {
		if key, err = localJWTKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	in, err := newInfra(cfg, log, key)
	if err != nil {
		return nil, err
	}
	app.metrics = in.metrics
	if app.bus, err = connectBus(ctx, cfg, log, true); err != nil {
		return nil, err
	}
	in.bus = app.bus
	// The web client calls the gateway in-process; the gateway is built
	// after the parts, so the transport looks it up when called.
	var gw http.Handler
	in.apiBase = "http://ticketing.internal"
	in.api = inProcess{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gw.ServeHTTP(w, r) })}
	var routes []gateway.Route
	fallback := in.handler(&part{name: "gateway"}, nil) // JSON 404 until a fallback part is built
	for _, spec := range catalog() {
		p, err := spec.build(ctx, in)
		if err != nil {
			return nil, err
		}
		app.parts = append(app.parts, p)
		switch {
		case spec.prefix != "":
			routes = append(routes, gateway.Route{Prefix: spec.prefix, Handler: in.handler(p, nil)})
		case spec.fallback:
			fallback = in.handler(p, nil)
		}
	}
	gw = gateway.New(routes, fallback)
	if app.following, err = followRevocations(ctx, app.bus, in.revoked); err != nil {
		return nil, err
	}
	top := http.NewServeMux()
	httpapi.Health(top, checks(app.bus, app.parts)...)
	top.Handle("/", gw)
	if err := app.start(ctx, cfg, top); err != nil {
		return nil, err
	}
	log.Info("ticketing up", "url", "http://"+app.Addr(), "config", cfg)
	return app, nil
}

func newInfra(cfg Config, log *slog.Logger, key []byte) (infra, error) {
	trusted, err := httpapi.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return infra{}, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return infra{cfg: cfg, log: log, key: key, trusted: trusted, metrics: metrics.New(), revoked: session.NewRevocations()}, nil
}

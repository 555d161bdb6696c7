package main

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/ticketing/ticketing/internal/apidoc"
	"github.com/ticketing/ticketing/internal/gateway"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

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
	// embedded NATS store, the generated keys; and then the sandbox
	// provider's journal.
	local := cfg.DatabaseURL == "" || cfg.NATSURL == "" || cfg.JWTKey == "" || cfg.TicketSigningKey == nil
	if local {
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
	if cfg.TicketSigningKey == nil {
		if cfg.TicketSigningKey, err = localTicketSigningKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	in, err := newInfra(cfg, log, key)
	if err != nil {
		return nil, err
	}
	if local {
		in.sandboxJournal = filepath.Join(cfg.DataDir, sandboxJournalFile)
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
			h := in.handler(p, nil)
			for _, prefix := range spec.prefixes() {
				routes = append(routes, gateway.Route{Prefix: prefix, Handler: h})
			}
		case spec.fallback:
			fallback = in.handler(p, nil)
		}
	}
	gw = gateway.New(routes, fallback)
	if app.following, err = followRevocations(ctx, app.bus, in.revoked); err != nil {
		return nil, err
	}
	doc, err := apidoc.Handler()
	if err != nil {
		return nil, err
	}
	top := http.NewServeMux()
	httpapi.Health(top, app.probes("ticketing", app.parts))
	top.Handle("GET /api/openapi.json", doc)
	top.Handle("/", gw)
	if err := app.start(ctx, cfg, top); err != nil {
		return nil, err
	}
	log.Info("ticketing up", "url", "http://"+app.Addr(), "config", cfg)
	return app, nil
}

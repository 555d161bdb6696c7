package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ticketing/ticketing/internal/apidoc"
	"github.com/ticketing/ticketing/internal/gateway"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/metrics"
)

// Serve runs one part in this process, against external NATS (NATS_URL) and
// its own PostgreSQL schema (DATABASE_URL). Replicas of a part share their
// durable consumers, so each event is handled by one of them.
func Serve(ctx context.Context, name string, cfg Config, log *slog.Logger) (_ *App, err error) {
	if err := checkJWTKey(cfg.JWTKey, modeServe); err != nil {
		return nil, err // parseConfig has said so already; a Config built by hand meets it here
	}
	in, err := newInfra(cfg, log.With("service", name), []byte(cfg.JWTKey))
	if err != nil {
		return nil, err
	}
	app := &App{log: in.log, metrics: in.metrics}
	defer func() {
		if err != nil {
			app.Close(context.WithoutCancel(ctx))
		}
	}()
	if name == "gateway" {
		h, err := gatewayProxy(cfg, in.trusted, in.log, in.metrics)
		if err != nil {
			return nil, err
		}
		if err := app.start(ctx, cfg, h); err != nil {
			return nil, err
		}
		in.log.Info("serving", "addr", app.Addr(), "config", cfg)
		return app, nil
	}
	var spec *partSpec
	for _, s := range catalog() {
		if s.name == name {
			spec = &s
		}
	}
	if spec == nil {
		return nil, fmt.Errorf("serve: unknown part %q (want one of %s)", name, strings.Join(partNames(), ", "))
	}
	if spec.events {
		if cfg.NATSURL == "" {
			return nil, errors.New("serve needs NATS_URL: every part of a deployment must share one NATS")
		}
		if app.bus, err = connectBus(ctx, cfg, in.log, spec.prefix != ""); err != nil {
			return nil, err
		}
		in.bus = app.bus
	}
	if cfg.DatabaseURL == "" && name != "web" && name != "expiration" {
		in.log.Warn("DATABASE_URL is empty: using a SQLite file in the data dir (one replica only)")
	}
	in.apiBase = cfg.GatewayURL // the web client reaches the API through the gateway
	p, err := spec.build(ctx, in)
	if err != nil {
		return nil, err
	}
	app.parts = append(app.parts, p)
	if spec.prefix != "" { // an API: its edge verifies sessions
		if app.following, err = followRevocations(ctx, app.bus, in.revoked); err != nil {
			return nil, err
		}
	}
	if err := app.start(ctx, cfg, in.handler(p, checks(app.bus, app.parts))); err != nil {
		return nil, err
	}
	in.log.Info("serving", "addr", app.Addr(), "config", cfg)
	return app, nil
}

func partNames() []string {
	names := []string{"gateway"}
	for _, s := range catalog() {
		names = append(names, s.name)
	}
	return names
}

// gatewayProxy routes by prefix to the services' URLs.
func gatewayProxy(cfg Config, trusted []netip.Prefix, log *slog.Logger, m *metrics.Metrics) (http.Handler, error) {
	var routes []gateway.Route
	for _, s := range catalog() {
		if s.prefix == "" {
			continue
		}
		raw := s.url(cfg)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("gateway: bad URL %q for the %s service", raw, s.name)
		}
		routes = append(routes, gateway.Route{Prefix: s.prefix, Handler: gateway.Proxy(u, trusted, log)})
	}
	web, err := url.Parse(cfg.WebURL)
	if err != nil || web.Host == "" {
		return nil, fmt.Errorf("gateway: bad WEB_URL %q", cfg.WebURL)
	}
	doc, err := apidoc.Handler()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	httpapi.Health(mux)
	mux.Handle("GET /api/openapi.json", doc) // the API's reference, served where the API is
	mux.Handle("/", gateway.New(routes, gateway.Proxy(web, trusted, log)))
	return httpapi.Observe(mux, m.Request("gateway")), nil
}

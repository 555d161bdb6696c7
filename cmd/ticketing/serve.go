package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

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
		h, balancers, err := gatewayProxy(cfg, in.trusted, in.log, in.metrics, app.probes("gateway", nil))
		if err != nil {
			return nil, err
		}
		// The balancers' health checks run as the gateway's background
		// loop, stopped with the others on Close.
		app.parts = append(app.parts, &part{name: "gateway", run: func(ctx context.Context) {
			var wg sync.WaitGroup
			for _, b := range balancers {
				wg.Go(func() { b.Run(ctx) })
			}
			wg.Wait()
		}})
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
	if spec.codes {
		if err := checkTicketSigningKey(cfg, name); err != nil {
			return nil, err
		}
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
		// The one replica keeps the sandbox's journal beside its database;
		// replicas sharing PostgreSQL keep the sandbox in memory each.
		in.sandboxJournal = filepath.Join(cfg.DataDir, sandboxJournalFile)
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
	probes := app.probes(name, app.parts)
	if err := app.start(ctx, cfg, in.handler(p, &probes)); err != nil {
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

// gatewayProxy routes by prefix to the services' URLs: each a
// comma-separated list of a part's replicas, balanced per request.
func gatewayProxy(cfg Config, trusted []netip.Prefix, log *slog.Logger, m *metrics.Metrics, probes httpapi.Probes) (http.Handler, []*gateway.Balancer, error) {
	var (
		routes    []gateway.Route
		balancers []*gateway.Balancer
		web       http.Handler
		// One transport for every part: keep-alive connections to each
		// backend, reused across requests.
		transport = gateway.NewTransport()
	)
	for _, s := range catalog() {
		if s.prefix == "" && !s.fallback {
			continue
		}
		targets, err := replicaURLs(s.url(cfg))
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: the %s service: %w", s.name, err)
		}
		b := gateway.NewBalancer(s.name, targets, gateway.BalanceConfig{Log: log, Transport: transport})
		balancers = append(balancers, b)
		m.GaugeVec(s.name, "ticketing_gateway_backend_healthy",
			"1 for a replica the gateway sends requests to, 0 for one it leaves out "+
				"(its /readyz fails, or it was ejected after failed requests), by part and backend address.",
			"backend", func(context.Context) (map[string]float64, error) {
				out := map[string]float64{}
				for host, ok := range b.Healthy() {
					out[host] = 0
					if ok {
						out[host] = 1
					}
				}
				return out, nil
			})
		if s.fallback {
			web = gateway.Proxy(b, trusted, log)
			continue
		}
		proxy := gateway.Proxy(b, trusted, log)
		for _, prefix := range s.prefixes() {
			routes = append(routes, gateway.Route{Prefix: prefix, Handler: proxy})
		}
	}
	doc, err := apidoc.Handler()
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	httpapi.Health(mux, probes)
	mux.Handle("GET /api/openapi.json", doc) // the API's reference, served where the API is
	mux.Handle("/", gateway.New(routes, web))
	return httpapi.Observe(mux, m.Request("gateway")), balancers, nil
}

// replicaURLs parses a part's URL variable: one URL per replica, comma
// separated, each http(s) with a host.
func replicaURLs(list string) ([]*url.URL, error) {
	var out []*url.URL
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("bad URL %q: want http(s)://host:port, comma separated for replicas", raw)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL")
	}
	return out, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/metrics"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

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
	// draining is set when shutdown begins: /readyz fails at once, so the
	// gateway and the Service stop sending requests, while the server
	// keeps serving for grace (SHUTDOWN_GRACE) before it stops.
	draining atomic.Bool
	grace    time.Duration
}

// errDraining is the readiness failure of a process shutting down.
var errDraining = errors.New("shutting down")

// drainCheck fails readiness once shutdown has begun.
func (a *App) drainCheck() httpapi.Check {
	return httpapi.Check{Name: "draining", Check: func(context.Context) error {
		if a.draining.Load() {
			return errDraining
		}
		return nil
	}}
}

// start runs the parts' relays and consumers and serves h on cfg.Addr,
// with /metrics there or on cfg.MetricsAddr.
func (a *App) start(ctx context.Context, cfg Config, h http.Handler) error {
	relayCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopRelay = cancel
	runCtx, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	a.stopRuns = stopRuns
	a.grace = cfg.ShutdownGrace
	for _, p := range a.parts {
		if p.ob != nil {
			a.metrics.Outbox(p.name, p.ob.Published, p.ob.Pending)
			a.relays.Go(func() { p.ob.Run(relayCtx) })
		}
		if p.run != nil {
			a.runs.Go(func() { p.run(runCtx) })
		}
		if len(p.listeners) > 0 {
			l, err := a.bus.Listen(ctx, p.name, p.listeners, natsbus.ListenConfig{
				MaxDeliver: cfg.EventMaxDeliveries, MaxBackoff: cfg.EventRetryMax, Observe: a.metrics.Handled,
			})
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
		if cfg.Pprof {
			servePprof(mux)
		}
		mux = http.NewServeMux()
	}
	mux.Handle("/", h)
	ln, err := a.listen(cfg.Addr, mux)
	a.ln = ln
	return err
}

// releaseStartup collects what building the parts left behind and hands
// the free memory back to the system, once the process serves (main calls
// it; tests, which start hundreds of systems in one process, do not).
// Applying the migrations leaves four 4 MiB parse buffers in goose's
// sync.Pool (16 MiB of a live heap of about 2 MiB, in every part with a
// database): left there, they set the collector's first goal at over
// 30 MiB, which a part under load then fills before its first
// collection. A pool is emptied by its second collection, hence two. It
// takes a few milliseconds, once.
func releaseStartup() {
	runtime.GC()
	debug.FreeOSMemory() // collects again, then returns the free pages
}

// servePprof adds the Go runtime's profiles to mux (the metrics
// listener's, and only when PPROF is set): CPU, heap, goroutines and the
// rest under /debug/pprof/, for `go tool pprof`.
func servePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
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
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.grace+20*time.Second)
	defer cancel()
	return errors.Join(err, a.Close(shutdownCtx))
}

// Close first drains, when the server runs and SHUTDOWN_GRACE is set:
// /readyz fails at once and keep-alive connections are closed after their
// next answer, so balancers move to other replicas, while requests are
// still served for the grace period (or until ctx ends). Then it shuts
// down in reverse order of dependence: stop accepting and finish
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
	a.draining.Store(true)
	if len(a.servers) > 0 && a.grace > 0 {
		a.log.Info("draining", "grace", a.grace)
		for _, srv := range a.servers {
			srv.SetKeepAlivesEnabled(false)
		}
		t := time.NewTimer(a.grace)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
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

package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// status GETs url and returns its status, 0 when nothing answers.
func status(url string) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeReadyWhileNATSIsDown: readiness is whether the process can
// serve HTTP. With NATS stopped its API still answers (events wait in the
// outbox), so /readyz stays 200, while the bus's own signals say it is
// away: /healthz/bus answers 503 and ticketing_bus_connected is 0. Both
// come back with NATS.
func TestServeReadyWhileNATSIsDown(t *testing.T) {
	t.Parallel()
	ns := natsbustest.StartServer(t)
	base := startServe(t, "tickets", map[string]string{
		"TICKETING_ADDR":     "127.0.0.1:0",
		"TICKETING_DATA_DIR": t.TempDir(),
		"NATS_URL":           ns.ClientURL(),
		"DATABASE_URL":       freshPostgres(t),
		"JWT_KEY":            strings.Repeat("ready-test-key-", 3),
		"TICKET_SIGNING_KEY": testTicketSigningKey,
	})
	busMetric := func(v string) func() bool {
		return func() bool {
			return strings.Contains(scrapeText(t, base+"/metrics"), `ticketing_bus_connected{service="tickets"} `+v+"\n")
		}
	}
	natsbustest.Eventually(t, 10*time.Second, "the bus connected", busMetric("1"))
	if got := status(base + "/healthz/bus"); got != http.StatusOK {
		t.Fatalf("/healthz/bus with NATS up = %d, want 200", got)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	natsbustest.Eventually(t, 10*time.Second, "the bus reported away", busMetric("0"))
	for path, want := range map[string]int{
		"/healthz/bus": http.StatusServiceUnavailable,
		"/readyz":      http.StatusOK,
		"/api/tickets": http.StatusOK,
	} {
		if got := status(base + path); got != want {
			t.Errorf("%s with NATS down = %d, want %d", path, got, want)
		}
	}

	ns.Restart(t)
	natsbustest.Eventually(t, 20*time.Second, "the bus back", busMetric("1"))
	if got := status(base + "/healthz/bus"); got != http.StatusOK {
		t.Fatalf("/healthz/bus with NATS back = %d, want 200", got)
	}
}

// TestDrainOnShutdown: in every mode, a shutdown (SIGTERM ends Wait's
// context) first fails /readyz, so balancers move away, while requests are
// still served for SHUTDOWN_GRACE; then the server stops.
func TestDrainOnShutdown(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	tests := []struct {
		name  string
		start func(t *testing.T) (*App, string) // the app and a path it serves
	}{
		{"up", func(t *testing.T) (*App, string) {
			_, app := startUp(t, t.TempDir(), map[string]string{"SHUTDOWN_GRACE": grace.String()})
			return app, "/api/tickets"
		}},
		{"serve tickets", func(t *testing.T) (*App, string) {
			ns := natsbustest.StartServer(t)
			return serveApp(t, "tickets", map[string]string{
				"TICKETING_ADDR":     "127.0.0.1:0",
				"TICKETING_DATA_DIR": t.TempDir(),
				"NATS_URL":           ns.ClientURL(),
				"JWT_KEY":            strings.Repeat("drain-test-key-", 3),
				"TICKET_SIGNING_KEY": testTicketSigningKey,
				"SHUTDOWN_GRACE":     grace.String(),
			}), "/api/tickets"
		}},
		{"serve gateway", func(t *testing.T) (*App, string) {
			return serveApp(t, "gateway", map[string]string{
				"TICKETING_ADDR": "127.0.0.1:0",
				"JWT_KEY":        strings.Repeat("drain-test-key-", 3),
				"SHUTDOWN_GRACE": grace.String(),
			}), "/healthz"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app, path := tc.start(t)
			base := "http://" + app.Addr()
			if got := status(base + "/readyz"); got != http.StatusOK {
				t.Fatalf("/readyz before shutdown = %d", got)
			}
			ctx, sigterm := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			go func() { stopped <- app.Wait(ctx) }()
			began := time.Now()
			sigterm()
			natsbustest.Eventually(t, time.Second, "/readyz failing", func() bool {
				return status(base+"/readyz") == http.StatusServiceUnavailable
			})
			if got := status(base + path); got != http.StatusOK {
				t.Errorf("%s while draining = %d, want 200", path, got)
			}
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("Wait: %v", err)
				}
			case <-time.After(grace + 20*time.Second):
				t.Fatal("did not stop")
			}
			if took := time.Since(began); took < grace {
				t.Errorf("stopped after %v, before the grace of %v", took, grace)
			}
			if got := status(base + path); got != 0 {
				t.Errorf("%s after shutdown = %d, want no answer", path, got)
			}
		})
	}
}

// TestServeGatewayBalancesReplicas: the gateway spreads a part's requests
// over the replicas listed in its URL variable, and a replica that drains
// and stops (a rolling restart) costs the clients nothing: it fails its
// /readyz, the gateway's checks leave it, and a request that finds it gone
// goes to the other.
func TestServeGatewayBalancesReplicas(t *testing.T) {
	t.Parallel()
	ns := natsbustest.StartServer(t)
	env := map[string]string{
		"TICKETING_ADDR":     "127.0.0.1:0",
		"TICKETING_DATA_DIR": t.TempDir(),
		"NATS_URL":           ns.ClientURL(),
		"DATABASE_URL":       freshPostgres(t),
		"JWT_KEY":            strings.Repeat("balance-test-key", 3),
		"TICKET_SIGNING_KEY": testTicketSigningKey,
		"SHUTDOWN_GRACE":     "3s", // longer than the gateway's 2 s check
	}
	a := serveApp(t, "tickets", env)
	b := serveApp(t, "tickets", env)
	gwEnv := map[string]string{"TICKETS_URL": "http://" + a.Addr() + ", http://" + b.Addr(), "SHUTDOWN_GRACE": "0"}
	for k, v := range env {
		if _, ok := gwEnv[k]; !ok {
			gwEnv[k] = v
		}
	}
	gw := "http://" + serveApp(t, "gateway", gwEnv).Addr()
	backend := func(app *App, v string) string {
		return `ticketing_gateway_backend_healthy{backend="` + app.Addr() + `",service="tickets"} ` + v + "\n"
	}
	if text := scrapeText(t, gw+"/metrics"); !strings.Contains(text, backend(a, "1")) || !strings.Contains(text, backend(b, "1")) {
		t.Errorf("the gateway's metrics lack both replicas healthy:\n%s", text)
	}
	served := func(app *App) bool {
		return strings.Contains(scrapeText(t, "http://"+app.Addr()+"/metrics"),
			`ticketing_http_requests_total{code="200",route="GET /api/tickets",service="tickets"}`)
	}
	for range 4 {
		if got := status(gw + "/api/tickets"); got != http.StatusOK {
			t.Fatalf("GET /api/tickets through the gateway = %d", got)
		}
	}
	if !served(a) || !served(b) {
		t.Fatalf("served by a: %v, by b: %v; want both", served(a), served(b))
	}

	stopped := make(chan error, 1)
	go func() { stopped <- a.Close(context.Background()) }()
	var requests, failed int
	for done := false; !done; {
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("close a: %v", err)
			}
			done = true
		default:
		}
		requests++
		if got := status(gw + "/api/tickets"); got != http.StatusOK {
			failed++
			t.Errorf("GET /api/tickets while a replica drains and stops = %d", got)
		}
	}
	for range 10 {
		requests++
		if got := status(gw + "/api/tickets"); got != http.StatusOK {
			failed++
			t.Errorf("GET /api/tickets after a replica stopped = %d", got)
		}
	}
	t.Logf("%d requests, %d failed", requests, failed)
	natsbustest.Eventually(t, 5*time.Second, "the stopped replica shown left out", func() bool {
		text := scrapeText(t, gw+"/metrics")
		return strings.Contains(text, backend(a, "0")) && strings.Contains(text, backend(b, "1"))
	})
}

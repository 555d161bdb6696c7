package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// scrapeText fetches a /metrics page; "" when it is not the Prometheus
// exposition.
func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return ""
	}
	return string(b)
}

func TestUpMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		// separate: /metrics is on METRICS_ADDR, and the main address
		// does not serve it.
		separate bool
	}{
		{"on the main address", nil, false},
		{"on METRICS_ADDR", map[string]string{"METRICS_ADDR": "127.0.0.1:0"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, app := startUp(t, t.TempDir(), tc.vars)
			at := base
			if tc.separate {
				at = "http://" + app.MetricsAddr()
				if text := scrapeText(t, base+"/metrics"); text != "" {
					t.Errorf("the main address serves /metrics with METRICS_ADDR set")
				}
			}
			seller := signUp(t, base, "metrics@example.com")
			var tk ticketJSON
			if got := seller.do("POST", "/api/tickets", map[string]any{"title": "Gig", "price": 5}, &tk); got != http.StatusCreated {
				t.Fatalf("create ticket = %d", got)
			}
			seller.do("GET", "/api/tickets/not-a-ticket", nil, nil)
			// What an operator watches: requests by route and code, the
			// outbox relaying, the orders service consuming, nothing behind.
			want := []string{
				`ticketing_http_requests_total{code="201",route="POST /api/users/signup",service="auth"} 1`,
				`ticketing_http_requests_total{code="201",route="POST /api/tickets",service="tickets"} 1`,
				`ticketing_http_requests_total{code="404",route="GET /api/tickets/{id}",service="tickets"} 1`,
				`ticketing_outbox_published_total{service="tickets"} 1`,
				`ticketing_outbox_pending{service="tickets"} 0`,
				`ticketing_events_handled_total{consumer="orders-ticket-created",outcome="ack"} 1`,
				`ticketing_consumer_pending{consumer="orders-ticket-created",service="orders"} 0`,
				`ticketing_payments_pending_claims{service="payments"} 0`,
			}
			var text string
			natsbustest.Eventually(t, 10*time.Second, "the sale in the metrics", func() bool {
				text = scrapeText(t, at+"/metrics")
				for _, w := range want {
					if !strings.Contains(text, w+"\n") {
						return false
					}
				}
				return true
			})
		})
	}
}

// TestPprofOnlyOnMetricsAddr: PPROF=true serves the runtime's profiles on
// the metrics listener, never on the main address; without it neither
// serves them.
func TestPprofOnlyOnMetricsAddr(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("PPROF=", on), func(t *testing.T) {
			t.Parallel()
			app := serveApp(t, "web", map[string]string{
				"TICKETING_ADDR": "127.0.0.1:0",
				"METRICS_ADDR":   "127.0.0.1:0",
				"PPROF":          strconv.FormatBool(on),
				"JWT_KEY":        strings.Repeat("pprof-test-key-", 3),
				"GATEWAY_URL":    "http://127.0.0.1:1",
			})
			get := func(url string) (int, string) {
				resp, err := http.Get(url)
				if err != nil {
					t.Fatalf("GET %s: %v", url, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			status, body := get("http://" + app.MetricsAddr() + "/debug/pprof/goroutine?debug=1")
			if served := status == http.StatusOK && strings.Contains(body, "goroutine profile"); served != on {
				t.Errorf("metrics listener /debug/pprof/goroutine = %d (served %v), want served %v", status, served, on)
			}
			if status, body := get("http://" + app.Addr() + "/debug/pprof/goroutine?debug=1"); strings.Contains(body, "goroutine profile") {
				t.Errorf("the main address serves the profiles (%d)", status)
			}
		})
	}
}

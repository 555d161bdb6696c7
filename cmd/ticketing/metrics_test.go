package main

import (
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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

package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/metrics"
)

// scrape returns the registry's text exposition.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestScrape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		record  func(*metrics.Metrics)
		want    []string
		notWant []string
	}{
		{
			name: "requests by service, route and code",
			record: func(m *metrics.Metrics) {
				req := m.Request("orders")
				req("POST /api/orders", 201, 3*time.Millisecond)
				req("POST /api/orders", 400, time.Millisecond)
				req("POST /api/orders", 400, time.Millisecond)
			},
			want: []string{
				`ticketing_http_requests_total{code="201",route="POST /api/orders",service="orders"} 1`,
				`ticketing_http_requests_total{code="400",route="POST /api/orders",service="orders"} 2`,
				`ticketing_http_request_duration_seconds_count{route="POST /api/orders",service="orders"} 3`,
				`ticketing_http_request_duration_seconds_bucket{route="POST /api/orders",service="orders",le="0.001"} 2`,
			},
		},
		{
			name: "deliveries by consumer and outcome, lag only with a stream timestamp",
			record: func(m *metrics.Metrics) {
				now := time.Now()
				m.SetClock(func() time.Time { return now })
				m.Handled("orders-ticket-created", "ack", now.Add(-200*time.Millisecond), time.Millisecond)
				m.Handled("orders-ticket-created", "retry", time.Time{}, time.Millisecond)
			},
			want: []string{
				`ticketing_events_handled_total{consumer="orders-ticket-created",outcome="ack"} 1`,
				`ticketing_events_handled_total{consumer="orders-ticket-created",outcome="retry"} 1`,
				`ticketing_event_handle_seconds_count{consumer="orders-ticket-created"} 2`,
				`ticketing_event_lag_seconds_count{consumer="orders-ticket-created"} 1`,
				`ticketing_event_lag_seconds_bucket{consumer="orders-ticket-created",le="0.1"} 0`,
				`ticketing_event_lag_seconds_bucket{consumer="orders-ticket-created",le="0.25"} 1`,
			},
		},
		{
			name: "outbox published and pending",
			record: func(m *metrics.Metrics) {
				m.Outbox("tickets", func() int64 { return 41 }, func(context.Context) (int, error) { return 3, nil })
			},
			want: []string{
				`ticketing_outbox_published_total{service="tickets"} 41`,
				`ticketing_outbox_pending{service="tickets"} 3`,
			},
		},
		{
			name: "a gauge that cannot be read is left out, the rest is served",
			record: func(m *metrics.Metrics) {
				m.Outbox("tickets", func() int64 { return 1 }, func(context.Context) (int, error) { return 0, errors.New("database is closed") })
				m.ConsumersPending("orders", func(context.Context) (map[string]uint64, error) { return nil, errors.New("no bus") })
			},
			want:    []string{`ticketing_outbox_published_total{service="tickets"} 1`, "# TYPE go_goroutines gauge"},
			notWant: []string{"ticketing_outbox_pending{", "ticketing_consumer_pending{"},
		},
		{
			name: "a service's gauge, read at scrape time",
			record: func(m *metrics.Metrics) {
				m.Gauge("payments", "ticketing_payments_pending_claims", "Claims.",
					func(context.Context) (float64, error) { return 2, nil })
				m.Gauge("payments", "ticketing_unreadable", "Down.",
					func(context.Context) (float64, error) { return 0, errors.New("database is closed") })
			},
			want:    []string{`ticketing_payments_pending_claims{service="payments"} 2`},
			notWant: []string{"ticketing_unreadable{"},
		},
		{
			name: "consumers pending",
			record: func(m *metrics.Metrics) {
				m.ConsumersPending("orders", func(context.Context) (map[string]uint64, error) {
					return map[string]uint64{"orders-ticket-created": 7, "orders-ticket-updated": 0}, nil
				})
				m.ConsumersPending("tickets", func(context.Context) (map[string]uint64, error) {
					return map[string]uint64{"tickets-order-created": 2}, nil
				})
			},
			want: []string{
				`ticketing_consumer_pending{consumer="orders-ticket-created",service="orders"} 7`,
				`ticketing_consumer_pending{consumer="orders-ticket-updated",service="orders"} 0`,
				`ticketing_consumer_pending{consumer="tickets-order-created",service="tickets"} 2`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			tc.record(m)
			text := scrape(t, m)
			for _, w := range tc.want {
				if !strings.Contains(text, w+"\n") {
					t.Errorf("scrape lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("scrape has %q", w)
				}
			}
		})
	}
}

// Two registries in one process (two systems in one test binary) do not
// collide: nothing is registered globally.
func TestRegistriesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(), metrics.New()
	a.Outbox("tickets", func() int64 { return 1 }, func(context.Context) (int, error) { return 0, nil })
	b.Outbox("tickets", func() int64 { return 2 }, func(context.Context) (int, error) { return 0, nil })
	a.Request("auth")("GET /x", 200, time.Millisecond)
	if text := scrape(t, b); strings.Contains(text, `service="auth"`) || !strings.Contains(text, `ticketing_outbox_published_total{service="tickets"} 2`+"\n") {
		t.Errorf("registry b shows a's metrics or lacks its own:\n%s", text)
	}
}

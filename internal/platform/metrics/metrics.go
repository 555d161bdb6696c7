// Package metrics owns the process's Prometheus registry and the metrics
// every service shares: HTTP requests by route, event handling by consumer,
// outbox backlog. It knows no service: the wiring hands it what to watch.
//
// The registry is created here and injected, never the global default one,
// so two systems in one test process (or one process running several parts)
// do not collide.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's registry and its shared instruments.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	handled     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	handleTime  *prometheus.HistogramVec
	eventLag    *prometheus.HistogramVec
	scrapeLimit time.Duration
	now         func() time.Time // the clock an event's lag is read on
}

// New returns a registry holding the Go runtime and process collectors and
// the shared instruments.
func New() *Metrics {
	m := &Metrics{
		now: time.Now,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketing_http_requests_total",
			Help: "HTTP requests answered, by service, route pattern and status code.",
		}, []string{"service", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ticketing_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by service and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"service", "route"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketing_events_handled_total",
			Help: "Event deliveries handled, by durable consumer and outcome (ack, retry, terminated).",
		}, []string{"consumer", "outcome"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketing_deadletters_total",
			Help: "Messages a durable consumer gave up on and stored in the DEADLETTERS stream, " +
				"to list and replay with `ticketing deadletters`.",
		}, []string{"consumer"}),
		handleTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ticketing_event_handle_seconds",
			Help:    "Time a handler took for one delivery, by durable consumer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"consumer"}),
		eventLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ticketing_event_lag_seconds",
			Help: "Time from an event's storing in the stream to the end of its handling, by durable consumer. " +
				"For expiration.complete the event is stored when its schedule fires, so this includes no window.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"consumer"}),
		scrapeLimit: 2 * time.Second,
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.handled, m.deadLetters, m.handleTime, m.eventLag,
	)
	return m
}

// Handler serves the registry in the Prometheus text format. A gauge that
// cannot be read (the database is down) is left out of the scrape, and
// counted in promhttp_metric_handler_errors_total, instead of failing the
// whole scrape when the other metrics matter most.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Request returns the recorder of one service's requests, for
// httpapi.Observe: the route is the mux pattern matched, so the label set
// stays as small as the route table.
func (m *Metrics) Request(service string) func(route string, status int, took time.Duration) {
	return func(route string, status int, took time.Duration) {
		m.requests.WithLabelValues(service, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(service, route).Observe(took.Seconds())
	}
}

// Handled records one delivery's outcome; its signature is natsbus's
// ListenConfig.Observe.
func (m *Metrics) Handled(consumer, outcome string, stored time.Time, took time.Duration) {
	m.handled.WithLabelValues(consumer, outcome).Inc()
	if outcome == "terminated" { // the runner stored it as a dead letter first
		m.deadLetters.WithLabelValues(consumer).Inc()
	}
	m.handleTime.WithLabelValues(consumer).Observe(took.Seconds())
	if !stored.IsZero() {
		m.eventLag.WithLabelValues(consumer).Observe(max(m.now().Sub(stored), 0).Seconds())
	}
}

// SetClock makes now the clock an event's lag is read on, so that a test
// knows the lag it records.
func (m *Metrics) SetClock(now func() time.Time) { m.now = now }

// Outbox reports a service's outbox: events relayed (a running count kept
// by the outbox) and rows waiting (counted at scrape time, off the hot
// path).
func (m *Metrics) Outbox(service string, published func() int64, pending func(context.Context) (int, error)) {
	labels := prometheus.Labels{"service": service}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ticketing_outbox_published_total",
			Help:        "Events the outbox relay has published and seen acknowledged.",
			ConstLabels: labels,
		}, func() float64 { return float64(published()) }),
		&funcGauge{
			desc: prometheus.NewDesc("ticketing_outbox_pending",
				"Outbox rows committed and not yet published: a growing value means the bus is unreachable.",
				nil, labels),
			read: func(ctx context.Context) (map[string]float64, error) {
				n, err := pending(ctx)
				return map[string]float64{"": float64(n)}, err
			},
			limit: m.scrapeLimit,
		},
	)
}

// ConsumersPending reports, at scrape time, how many messages each durable
// consumer has not yet been given: a growing value means a service is
// falling behind.
func (m *Metrics) ConsumersPending(service string, pending func(context.Context) (map[string]uint64, error)) {
	m.reg.MustRegister(&funcGauge{
		desc: prometheus.NewDesc("ticketing_consumer_pending",
			"Messages in the stream a durable consumer has not yet been delivered.",
			[]string{"consumer"}, prometheus.Labels{"service": service}),
		read: func(ctx context.Context) (map[string]float64, error) {
			p, err := pending(ctx)
			out := make(map[string]float64, len(p))
			for k, v := range p {
				out[k] = float64(v)
			}
			return out, err
		},
		limit: m.scrapeLimit,
	})
}

// Gauge reports one value of a service read at scrape time through read
// (a count in its database, say), so that nothing keeps it up to date.
func (m *Metrics) Gauge(service, name, help string, read func(context.Context) (float64, error)) {
	m.reg.MustRegister(&funcGauge{
		desc: prometheus.NewDesc(name, help, nil, prometheus.Labels{"service": service}),
		read: func(ctx context.Context) (map[string]float64, error) {
			v, err := read(ctx)
			return map[string]float64{"": v}, err
		},
		limit: m.scrapeLimit,
	})
}

// GaugeVec is Gauge with one variable label: read returns a value per
// label value (a backend's address, say).
func (m *Metrics) GaugeVec(service, name, help, label string, read func(context.Context) (map[string]float64, error)) {
	m.reg.MustRegister(&funcGauge{
		desc:  prometheus.NewDesc(name, help, []string{label}, prometheus.Labels{"service": service}),
		read:  read,
		limit: m.scrapeLimit,
	})
}

// funcGauge is a gauge read at scrape time through a call that may fail or
// be slow (a query, a request to the server): a failure yields an invalid
// metric, which the scrape reports, instead of a stale value.
type funcGauge struct {
	desc  *prometheus.Desc
	read  func(context.Context) (map[string]float64, error)
	limit time.Duration
}

func (g *funcGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect reads the values. A map key is the value of the gauge's one
// variable label; "" for a gauge without one.
func (g *funcGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), g.limit)
	defer cancel()
	vals, err := g.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, err)
		return
	}
	for k, v := range vals {
		if k == "" {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v)
		} else {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, k)
		}
	}
}

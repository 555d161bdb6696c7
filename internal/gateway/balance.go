package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// BalanceConfig tunes a Balancer; a zero field takes its default.
type BalanceConfig struct {
	// CheckEvery is how often each backend's GET /readyz is asked (2 s);
	// CheckTimeout bounds one check (1 s).
	CheckEvery, CheckTimeout time.Duration
	// EjectAfter consecutive failed requests (a connection that fails, a
	// 502, 503 or 504) eject a backend for EjectFor (3, 10 s).
	EjectAfter int
	EjectFor   time.Duration
	// Transport reaches the backends (NewTransport when nil). The balancers
	// of one gateway share one: its idle connections are kept per backend.
	Transport http.RoundTripper
	Now       func() time.Time
	Log       *slog.Logger
}

// Balancer spreads one part's requests over its replicas, round-robin
// over those that are healthy: their /readyz answers 200 (asked every
// CheckEvery, so a replica draining on SIGTERM is left within one period)
// and they are not ejected (EjectAfter failed requests in a row leave it
// out for EjectFor, however its /readyz answers). When none is healthy it
// tries them all, rather than refuse what one of them might serve.
//
// It is the Transport of the part's httputil.ReverseProxy (Proxy): a
// request whose connection could not be made (nothing reached the
// backend, so any method is safe to send again) is sent once more, to
// another replica. A request that reached one is never sent again: a POST
// may have taken effect.
type Balancer struct {
	name     string
	backends []*backend
	next     atomic.Uint64
	cfg      BalanceConfig
	probe    *http.Client
}

type backend struct {
	url *url.URL
	mu  sync.Mutex
	// ready is the last /readyz answer; fails counts failed requests in
	// a row; ejectedUntil ends an ejection.
	ready        bool
	fails        int
	ejectedUntil time.Time
}

// IdleConnsPerBackend is how many idle keep-alive connections the gateway
// keeps to each backend: as many as requests it has in flight to one
// backend under load, so that a request finds a connection to reuse. With
// http.DefaultTransport's 2, all but two of the concurrent requests to a
// part opened a new connection and closed it after the answer: a quarter
// of the gateway's CPU went to dialing (docs/PERFORMANCE.md). Beyond it,
// connections are still opened as needed, and the extra ones closed when
// idle.
const IdleConnsPerBackend = 256

// NewTransport returns the transport to the backends: http.DefaultTransport's
// settings (timeouts, HTTP/2 when a backend offers it over TLS) with up to
// IdleConnsPerBackend idle connections kept per backend, and no cap over
// all backends. An idle connection is closed after 90 s, before the
// services' servers close it (2 min), so the gateway never sends on a
// connection the backend is closing.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = IdleConnsPerBackend
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// NewBalancer returns the balancer of the part name over targets (at
// least one, differing only in scheme and host). Each starts healthy:
// Run's first check comes at once.
func NewBalancer(name string, targets []*url.URL, cfg BalanceConfig) *Balancer {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 2 * time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = time.Second
	}
	if cfg.EjectAfter <= 0 {
		cfg.EjectAfter = 3
	}
	if cfg.EjectFor <= 0 {
		cfg.EjectFor = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &Balancer{name: name, cfg: cfg, probe: &http.Client{Transport: cfg.Transport, Timeout: cfg.CheckTimeout}}
	for _, u := range targets {
		b.backends = append(b.backends, &backend{url: u, ready: true})
	}
	return b
}

// Run checks every backend's /readyz now and every CheckEvery until ctx
// ends.
func (b *Balancer) Run(ctx context.Context) {
	t := time.NewTicker(b.cfg.CheckEvery)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, be := range b.backends {
			wg.Go(func() { b.check(ctx, be) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Balancer) check(ctx context.Context, be *backend) {
	ready := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.url.JoinPath("/readyz").String(), nil)
	if err == nil {
		var resp *http.Response
		if resp, err = b.probe.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	if ctx.Err() != nil {
		return // stopping: not the backend's fault
	}
	be.mu.Lock()
	changed := be.ready != ready
	be.ready = ready
	be.mu.Unlock()
	if changed {
		if ready {
			b.cfg.Log.Info("backend ready", "part", b.name, "backend", be.url.Host)
		} else {
			b.cfg.Log.Warn("backend not ready", "part", b.name, "backend", be.url.Host, "err", err)
		}
	}
}

// Part is the name of the part the balancer serves.
func (b *Balancer) Part() string { return b.name }

// Healthy reports, by backend host, whether the backend gets requests now
// (its /readyz passed and it is not ejected).
func (b *Balancer) Healthy() map[string]bool {
	now := b.cfg.Now()
	out := make(map[string]bool, len(b.backends))
	for _, be := range b.backends {
		out[be.url.Host] = be.healthy(now)
	}
	return out
}

// pick returns the next healthy backend other than avoid, or any other
// than avoid when none is healthy; nil when there is no other.
//
// It allocates nothing: it runs once per request. The health of each
// backend is read once, into a small mask.
func (b *Balancer) pick(avoid *backend) *backend {
	if len(b.backends) == 1 { // one replica: the usual case
		if be := b.backends[0]; be != avoid {
			return be
		}
		return nil
	}
	now := b.cfg.Now()
	var mask [64]bool // healthy, by index; a part has far fewer replicas
	healthy, others := 0, 0
	for i, be := range b.backends {
		if be == avoid {
			continue
		}
		up := be.healthy(now)
		if i < len(mask) {
			mask[i] = up
		}
		if up {
			healthy++
		} else {
			others++
		}
	}
	want, n := true, healthy // among the healthy, or the rest when none is
	if healthy == 0 {
		want, n = false, others
	}
	if n == 0 {
		return nil
	}
	k := b.next.Add(1) % uint64(n)
	for i, be := range b.backends {
		if be == avoid {
			continue
		}
		up := i < len(mask) && mask[i]
		if i >= len(mask) {
			up = be.healthy(now)
		}
		if up != want {
			continue
		}
		if k == 0 {
			return be
		}
		k--
	}
	// Only past the 64th backend, whose health changed between the passes.
	for _, be := range b.backends {
		if be != avoid {
			return be
		}
	}
	return nil
}

// healthy reports whether be gets requests at now: its /readyz passed and
// it is not ejected.
func (be *backend) healthy(now time.Time) bool {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.ready && !now.Before(be.ejectedUntil)
}

// RoundTrip sends req to a backend, and once more to another when the
// connection to the first could not be made.
func (b *Balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *trackedBody
	if req.Body != nil && req.Body != http.NoBody {
		// The transport closes a request's body when it fails; this one
		// stays open for a second try and counts what was read of it.
		// (The reverse proxy closes req.Body itself.)
		body = &trackedBody{r: req.Body}
	}
	be := b.pick(nil)
	resp, err := b.send(req, be, body)
	if err != nil && neverConnected(err) && (body == nil || body.n.Load() == 0) {
		if other := b.pick(be); other != nil {
			b.cfg.Log.Debug("retry on another backend", "part", b.name, "failed", be.url.Host, "err", err)
			resp, err = b.send(req, other, body)
		}
	}
	return resp, err
}

func (b *Balancer) send(req *http.Request, be *backend, body *trackedBody) (*http.Response, error) {
	// A shallow copy with its own URL: the headers are the reverse
	// proxy's copy already, and the transport only reads them (a deep
	// Clone per request cost a header map and its values).
	out := req.WithContext(req.Context())
	u := *req.URL
	u.Scheme, u.Host = be.url.Scheme, be.url.Host
	out.URL = &u
	if body != nil {
		out.Body = body
	}
	resp, err := b.cfg.Transport.RoundTrip(out)
	failed := err != nil
	if resp != nil {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			failed = true
		}
	}
	if err != nil && req.Context().Err() != nil {
		failed = false // the client went away: not the backend's fault
	}
	b.record(be, failed)
	return resp, err
}

// record counts a request's outcome, ejecting the backend after
// EjectAfter failures in a row.
func (b *Balancer) record(be *backend, failed bool) {
	be.mu.Lock()
	defer be.mu.Unlock()
	if !failed {
		be.fails = 0
		return
	}
	be.fails++
	if be.fails >= b.cfg.EjectAfter {
		be.fails = 0
		be.ejectedUntil = b.cfg.Now().Add(b.cfg.EjectFor)
		b.cfg.Log.Warn("backend ejected", "part", b.name, "backend", be.url.Host, "for", b.cfg.EjectFor)
	}
}

// neverConnected reports whether err is a failure to open the connection
// (refused, no route, a dial timeout): the request never left.
func neverConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// trackedBody passes reads on and counts the bytes; Close is left to the
// server, which closes a request body when its handler returns.
type trackedBody struct {
	r io.Reader
	n atomic.Int64
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n.Add(int64(n))
	return n, err
}

func (t *trackedBody) Close() error { return nil }

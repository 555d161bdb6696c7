package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// replica is one backend of a part: a real HTTP server that can be killed
// and started again on the same address, counting the API requests it
// serves. Its /readyz answers 200 while ready; the API answers status.
type replica struct {
	name   string
	addr   string
	srv    *httptest.Server
	hits   atomic.Int64
	ready  atomic.Bool
	status atomic.Int64
}

func startReplica(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{name: name, addr: "127.0.0.1:0"}
	r.ready.Store(true)
	r.status.Store(http.StatusOK)
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatalf("listen %s: %v", r.addr, err)
	}
	r.addr = ln.Addr().String()
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" {
			if !r.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		io.Copy(io.Discard, req.Body)
		r.hits.Add(1)
		w.WriteHeader(int(r.status.Load()))
		io.WriteString(w, r.name)
	}))
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
}

// kill stops the server and drops its connections: nothing listens at its
// address any more.
func (r *replica) kill() { r.srv.Close() }

func (r *replica) url() *url.URL { return &url.URL{Scheme: "http", Host: r.addr} }

// balanced returns a proxy over the replicas whose health checks run until
// the test ends, ejecting for a minute of clk after two failures.
func balanced(t *testing.T, clk *clocktest.Clock, rs ...*replica) http.Handler {
	t.Helper()
	var us []*url.URL
	for _, r := range rs {
		us = append(us, r.url())
	}
	log := natsbustest.Logger(t)
	b := NewBalancer("orders", us, BalanceConfig{
		CheckEvery: 10 * time.Millisecond, EjectAfter: 2, EjectFor: time.Minute, Now: clk.Now, Log: log,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return Proxy(b, nil, log)
}

// send makes one request through h and returns the status and who served it.
func send(h http.Handler, method string) (int, string) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"ticketId":"t1"}`)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, "http://ticketing.test/api/orders", body))
	return w.Code, w.Body.String()
}

func TestBalancerSpreadsRequests(t *testing.T) {
	t.Parallel()
	a, b := startReplica(t, "a"), startReplica(t, "b")
	h := balanced(t, clocktest.New(clocktest.Start), a, b)
	for range 20 {
		if code, _ := send(h, http.MethodGet); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if a.hits.Load() != 10 || b.hits.Load() != 10 {
		t.Fatalf("a served %d, b %d: want 10 each", a.hits.Load(), b.hits.Load())
	}
}

// TestBalancerSurvivesAKilledReplica: a replica killed outright costs the
// clients nothing (a request that cannot connect goes to the other, POST
// included, since nothing reached the dead one), it is ejected, and it
// gets requests again once it is back and its ejection is over.
func TestBalancerSurvivesAKilledReplica(t *testing.T) {
	t.Parallel()
	a, b := startReplica(t, "a"), startReplica(t, "b")
	clk := clocktest.New(clocktest.Start)
	h := balanced(t, clk, a, b)
	a.kill()
	for i := range 20 {
		method := []string{http.MethodGet, http.MethodPost}[i%2]
		if code, by := send(h, method); code != http.StatusOK || by != "b" {
			t.Fatalf("%s %d with a killed: %d from %q, want 200 from b", method, i, code, by)
		}
	}
	if got := b.hits.Load(); got != 20 {
		t.Fatalf("b served %d of 20", got)
	}

	a.start(t)
	clk.Advance(time.Minute) // the ejection ends; /readyz says it is back
	natsbustest.Eventually(t, 5*time.Second, "a serves again", func() bool {
		code, _ := send(h, http.MethodGet)
		return code == http.StatusOK && a.hits.Load() > 0
	})
}

// TestBalancerEjectsAFailingReplica: a replica whose /readyz passes but
// whose requests fail (503) is left out for the ejection time, then tried
// again. A request that reached it is never sent again elsewhere.
func TestBalancerEjectsAFailingReplica(t *testing.T) {
	t.Parallel()
	a, b := startReplica(t, "a"), startReplica(t, "b")
	clk := clocktest.New(clocktest.Start)
	h := balanced(t, clk, a, b)
	a.status.Store(http.StatusServiceUnavailable)
	var from503 int
	for range 20 {
		code, by := send(h, http.MethodPost)
		if code == http.StatusServiceUnavailable && by == "a" {
			from503++
		}
	}
	if from503 != 2 || a.hits.Load() != 2 || b.hits.Load() != 18 {
		t.Fatalf("a answered %d 503s (%d hits), b %d hits: want 2 and 18 (ejected after 2)", from503, a.hits.Load(), b.hits.Load())
	}
	a.status.Store(http.StatusOK)
	clk.Advance(time.Minute)
	for range 4 {
		send(h, http.MethodGet)
	}
	if a.hits.Load() != 4 {
		t.Fatalf("a served %d of 4 after its ejection: want 2", a.hits.Load()-2)
	}
}

// TestBalancerLeavesANotReadyReplica: a replica whose /readyz fails (it is
// draining after SIGTERM) gets no new requests while it still serves, and
// gets them again once ready.
func TestBalancerLeavesANotReadyReplica(t *testing.T) {
	t.Parallel()
	a, b := startReplica(t, "a"), startReplica(t, "b")
	h := balanced(t, clocktest.New(clocktest.Start), a, b)
	a.ready.Store(false)
	natsbustest.Eventually(t, 5*time.Second, "a is left out", func() bool {
		before := a.hits.Load()
		for range 4 {
			send(h, http.MethodGet)
		}
		return a.hits.Load() == before
	})
	a.ready.Store(true)
	natsbustest.Eventually(t, 5*time.Second, "a is back", func() bool {
		before := a.hits.Load()
		send(h, http.MethodGet)
		send(h, http.MethodGet)
		return a.hits.Load() > before
	})
}

// TestBalancerAllDownIs503: with every replica gone the client gets the
// JSON 503, not a hang or a 502.
func TestBalancerAllDownIs503(t *testing.T) {
	t.Parallel()
	a, b := startReplica(t, "a"), startReplica(t, "b")
	h := balanced(t, clocktest.New(clocktest.Start), a, b)
	a.kill()
	b.kill()
	for range 3 {
		if code, body := send(h, http.MethodPost); code != http.StatusServiceUnavailable || !strings.Contains(body, `"errors"`) {
			t.Fatalf("all down: %d %q, want a JSON 503", code, body)
		}
	}
}

// TestProxyReusesConnections: concurrent requests through the proxy leave
// their connections idle for the next ones, so a second burst as wide as
// the first opens none. (With http.DefaultTransport's two idle
// connections per host, each burst opened about one per request.)
func TestProxyReusesConnections(t *testing.T) {
	t.Parallel()
	const width = 32
	var conns atomic.Int64
	release := make(chan struct{})
	var inFlight atomic.Int64
	svc := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold every request until the whole burst is in flight, so the
		// burst needs width connections at once.
		if inFlight.Add(1) == width {
			close(release)
		}
		<-release
		io.WriteString(w, "ok")
	}))
	svc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	svc.Start()
	t.Cleanup(svc.Close)
	target, _ := url.Parse(svc.URL)
	proxy := httptest.NewServer(Proxy(NewBalancer("test", []*url.URL{target}, BalanceConfig{}), nil, natsbustest.Logger(t)))
	t.Cleanup(proxy.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: width}}
	burst := func() {
		t.Helper()
		errs := make(chan error, width)
		for range width {
			go func() {
				resp, err := client.Get(proxy.URL + "/api/tickets")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errs <- err
			}()
		}
		for range width {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	first := conns.Load()
	if first != width {
		t.Fatalf("the first burst of %d opened %d connections to the backend, want %d", width, first, width)
	}
	// Every request now answers at once; a burst needs at most width.
	burst()
	if opened := conns.Load() - first; opened != 0 {
		t.Errorf("a second burst of %d opened %d more connections to the backend, want 0 (they should be reused)", width, opened)
	}
}

// TestPickSpreadsOverHealthy: pick takes turns over the healthy backends
// alone, over all of them when none is, never returns the one to avoid, and
// allocates nothing (it runs once per request). Not parallel:
// testing.AllocsPerRun refuses to run beside other tests.
func TestPickSpreadsOverHealthy(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var us []*url.URL
	for _, h := range []string{"a:1", "b:1", "c:1"} {
		us = append(us, &url.URL{Scheme: "http", Host: h})
	}
	tests := []struct {
		name    string
		down    []int // backends whose /readyz failed
		avoid   int   // -1: none
		wantAll []string
	}{
		{"all healthy", nil, -1, []string{"a:1", "b:1", "c:1"}},
		{"one down", []int{1}, -1, []string{"a:1", "c:1"}},
		{"one down, one avoided", []int{1}, 0, []string{"c:1"}},
		{"all down: try them all", []int{0, 1, 2}, -1, []string{"a:1", "b:1", "c:1"}},
		{"all down, one avoided", []int{0, 1, 2}, 2, []string{"a:1", "b:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBalancer("test", us, BalanceConfig{Now: clk.Now})
			for _, i := range tt.down {
				b.backends[i].ready = false
			}
			var avoid *backend
			if tt.avoid >= 0 {
				avoid = b.backends[tt.avoid]
			}
			got := map[string]int{}
			for range 30 * len(tt.wantAll) {
				got[b.pick(avoid).url.Host]++
			}
			if len(got) != len(tt.wantAll) {
				t.Fatalf("picked %v, want each of %v", got, tt.wantAll)
			}
			for _, h := range tt.wantAll {
				if got[h] != 30 {
					t.Errorf("picked %v, want each of %v 30 times", got, tt.wantAll)
				}
			}
			if allocs := testing.AllocsPerRun(100, func() { b.pick(avoid) }); allocs != 0 {
				t.Errorf("pick allocates %v times, want 0", allocs)
			}
		})
	}
	one := NewBalancer("test", us[:1], BalanceConfig{})
	if be := one.pick(nil); be == nil || be.url.Host != "a:1" {
		t.Errorf("the one backend: picked %v", be)
	}
	if be := one.pick(one.backends[0]); be != nil {
		t.Errorf("the one backend, avoided: picked %v, want none", be.url.Host)
	}
}

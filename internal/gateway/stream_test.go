package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestStreamPassesThrough: a server-sent-event stream (the waiting room's)
// reaches the client event by event through the gateway as `serve` builds
// it (compression, the request observer, the proxy), not when the stream
// ends: every wrapper of the response must pass a flush on.
func TestStreamPassesThrough(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: status\ndata: {\"position\":1}\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(release) })
	target, _ := url.Parse(backend.URL)
	proxy := Proxy(NewBalancer("events", []*url.URL{target}, BalanceConfig{}), nil, natsbustest.Logger(t))
	gw := httpapi.Observe(New([]Route{{Prefix: "/api/events", Handler: proxy}}, named("web")),
		func(string, int, time.Duration) {})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events/e1/queue/stream", nil)
	req.Header.Set("Accept-Encoding", "gzip, zstd") // as browsers send it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "event: status") {
		t.Fatalf("first line of the stream = %q, %v: want the first event while the stream is open", line, err)
	}
}

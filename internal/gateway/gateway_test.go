package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// named answers with its name, so a test sees which route served it.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
}

func TestRouting(t *testing.T) {
	t.Parallel()
	gw := New([]Route{
		{Prefix: "/api/users", Handler: named("auth")},
		{Prefix: "/api/tickets/", Handler: named("tickets")},
	}, named("web"))
	tests := []struct {
		method, path, origin, fetchSite string
		wantStatus                      int
		wantBody                        string
	}{
		{"GET", "/api/users/currentuser", "", "", 200, "auth"},
		{"GET", "/api/users", "", "", 200, "auth"},
		{"GET", "/api/tickets", "", "", 200, "tickets"},
		{"GET", "/api/tickets/123", "", "", 200, "tickets"},
		{"GET", "/api/usersx", "", "", 200, "web"},
		{"GET", "/", "", "", 200, "web"},
		{"GET", "/orders/1", "", "", 200, "web"},
		{"POST", "/api/users/signup", "", "same-origin", 200, "auth"},
		{"POST", "/api/users/signup", "", "", 200, "auth"}, // a non-browser client sends neither header
		{"POST", "/api/users/signup", "https://evil.example", "cross-site", 403, ""},
		{"DELETE", "/api/tickets/1", "https://evil.example", "", 403, ""},
		{"GET", "/api/tickets", "https://evil.example", "cross-site", 200, "tickets"}, // reads are not refused
		{"POST", "/api/users", "https://evil.example", "cross-site", 403, ""},
		{"PUT", "/api/tickets/1", "", "cross-site", 403, ""},
		// The web client refuses a cross-site form itself, with its HTML
		// error page: the gateway hands it over.
		{"POST", "/tickets/new", "https://evil.example", "cross-site", 200, "web"},
		{"POST", "/auth/signin", "https://evil.example", "", 200, "web"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.fetchSite, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://ticketing.test"+tt.path, nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if tt.wantStatus == 403 {
				var body struct{ Errors []struct{ Message string } }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
					t.Fatalf("403 body = %q, want a JSON error", w.Body)
				}
				if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
					t.Fatalf("403 headers = %v, want nosniff and no-store", w.Header())
				}
				return
			}
			if w.Body.String() != tt.wantBody {
				t.Fatalf("served by %q, want %q", w.Body, tt.wantBody)
			}
		})
	}
}

func TestProxyForwardedFor(t *testing.T) {
	t.Parallel()
	// The service behind the gateway: a real HTTP server reporting the
	// X-Forwarded-For it received.
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-For"))
	}))
	defer svc.Close()
	target, _ := url.Parse(svc.URL)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	proxy := Proxy(NewBalancer("test", []*url.URL{target}, BalanceConfig{}), trusted, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		name, peer, xff, want string
	}{
		{"no header", "198.51.100.9:4000", "", "198.51.100.9"},
		{"spoofed by an untrusted client", "198.51.100.9:4000", "1.2.3.4", "198.51.100.9"},
		{"named by a trusted proxy", "10.1.2.3:4000", "203.0.113.7", "203.0.113.7"},
		{"through trusted proxies, after a forged hop", "10.1.2.3:4000", "1.2.3.4, 203.0.113.7, 10.9.9.9", "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://ticketing.test/api/users/currentuser", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			w := httptest.NewRecorder()
			proxy.ServeHTTP(w, r)
			if got := strings.TrimSpace(w.Body.String()); got != tt.want {
				t.Fatalf("service saw X-Forwarded-For %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProxyUnreachableIs503(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	target, _ := url.Parse(down.URL)
	down.Close() // nothing listens there any more
	proxy := Proxy(NewBalancer("test", []*url.URL{target}, BalanceConfig{}), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w := httptest.NewRecorder()
	proxy.ServeHTTP(w, httptest.NewRequest("GET", "http://ticketing.test/api/tickets", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"errors"`) {
		t.Fatalf("unreachable service = %d %q, want a JSON 503", w.Code, w.Body)
	}
}

// sized answers with n bytes of content type ct.
func sized(ct string, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, strings.Repeat("a", n))
	})
}

func TestCompressesAPIJSON(t *testing.T) {
	t.Parallel()
	gw := New([]Route{
		{Prefix: "/api/big", Handler: sized("application/json", 8<<10)},
		{Prefix: "/api/small", Handler: sized("application/json", 200)},
		{Prefix: "/api/png", Handler: sized("image/png", 8<<10)},
	}, sized("text/html; charset=utf-8", 8<<10))
	tests := []struct {
		path, accept, want string
	}{
		{"/api/big", "gzip", "gzip"},
		{"/api/big", "gzip, deflate, br, zstd", "zstd"},
		{"/api/big", "", ""},
		{"/api/small", "gzip", ""},
		{"/api/png", "gzip", ""},
		// The web client compresses its own answers.
		{"/", "gzip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.accept, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Encoding", tt.accept)
			}
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			if got := w.Header().Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.want)
			}
			if tt.want != "" && w.Body.Len() >= 1024 {
				t.Fatalf("8 KiB compressed to %d bytes", w.Body.Len())
			}
		})
	}
}

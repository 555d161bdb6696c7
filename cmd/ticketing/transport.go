package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
)

// inProcess is an http.RoundTripper that serves requests with a handler in
// the same process. In `up` the web client calls the API "through the
// gateway" this way, with no socket in between; in `serve web` it uses a
// real URL instead.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	// API answers are small JSON bodies: buffering them whole is fine.
	rec := httptest.NewRecorder()
	r = r.Clone(r.Context())
	r.RequestURI = r.URL.RequestURI()
	// The web client names the browser's address in X-Forwarded-For, found
	// with the trusted-proxy rule from what reached it (a load balancer's
	// header included). The caller is this process, so the header is trusted
	// by construction: it becomes the peer address the services see (rate
	// limits are per browser, not per web server or load balancer).
	r.RemoteAddr = "127.0.0.1:0"
	if hops := strings.Split(r.Header.Get("X-Forwarded-For"), ","); hops[0] != "" {
		if a, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
			r.RemoteAddr = netip.AddrPortFrom(a, 0).String()
		}
	}
	r.Header.Del("X-Forwarded-For")
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

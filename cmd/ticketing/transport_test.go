package main

import (
	"net/http"
	"testing"
)

// TestInProcessCarriesTheBrowserAddress: the web client names the browser in
// X-Forwarded-For; in `up` that address must reach the services as the peer,
// so per-address rate limits count browsers, not the web server.
func TestInProcessCarriesTheBrowserAddress(t *testing.T) {
	t.Parallel()
	tests := []struct{ xff, wantPeer string }{
		{"", "127.0.0.1:0"},
		{"203.0.113.7", "203.0.113.7:0"},
		{"1.2.3.4, 203.0.113.7", "203.0.113.7:0"}, // the web names one address; were there more, the last is the nearest
		{"2001:db8::1", "[2001:db8::1]:0"},
		{"not an address", "127.0.0.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.xff, func(t *testing.T) {
			var peer, xff string
			tr := inProcess{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				peer, xff = r.RemoteAddr, r.Header.Get("X-Forwarded-For")
				w.WriteHeader(http.StatusTeapot)
			})}
			req, _ := http.NewRequest("GET", "http://ticketing.internal/api/users/currentuser", nil)
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTeapot {
				t.Fatalf("status = %d, want the handler's", resp.StatusCode)
			}
			if peer != tt.wantPeer || xff != "" {
				t.Fatalf("handler saw peer %q and X-Forwarded-For %q, want %q and none", peer, xff, tt.wantPeer)
			}
		})
	}
}

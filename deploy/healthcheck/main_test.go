package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte(`{"status":"ok"}`))
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		default:
			http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := check(ctx, srv.URL+"/readyz", time.Second); err != nil {
		t.Errorf("ready server: %v", err)
	}
	if err := check(ctx, srv.URL+"/notready", time.Second); err == nil {
		t.Error("a 503 passed")
	}
	if err := check(ctx, srv.URL+"/slow", 20*time.Millisecond); err == nil {
		t.Error("a timeout passed")
	}
	if err := check(ctx, "http://127.0.0.1:1/readyz", time.Second); err == nil {
		t.Error("a refused connection passed")
	}
}

package apidoc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ticketing/ticketing/internal/apidoc"
)

// The document converts to JSON with its structure intact, and the handler
// serves that JSON, revalidated by its ETag. (cmd/ticketing checks the
// document against the routes and the answers.)
func TestHandlerServesTheDocumentAsJSON(t *testing.T) {
	t.Parallel()
	doc, err := apidoc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &head); err != nil || head.OpenAPI != "3.1.0" || head.Paths["/api/orders/{id}"] == nil {
		t.Fatalf("JSON() = openapi %q, %d paths (%v)", head.OpenAPI, len(head.Paths), err)
	}
	h, err := apidoc.Handler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	etag := rec.Header().Get("ETag")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != string(doc) || etag == "" {
		t.Fatalf("GET = %d %q ETag %q, body the document: %v", rec.Code, rec.Header().Get("Content-Type"), etag, rec.Body.String() == string(doc))
	}
	for _, tc := range []struct {
		ifNoneMatch string
		want        int
	}{{etag, http.StatusNotModified}, {`"stale"`, http.StatusOK}} {
		req := httptest.NewRequest("GET", "/api/openapi.json", nil)
		req.Header.Set("If-None-Match", tc.ifNoneMatch)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("If-None-Match %s = %d, want %d", tc.ifNoneMatch, rec.Code, tc.want)
		}
	}
}

// Package apidoc holds the OpenAPI document of the HTTP API
// (openapi.yaml beside this file, the one copy) and serves it as JSON.
package apidoc

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/yaml"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

// JSON returns the document converted to JSON, the form tools and
// browsers read without a YAML parser.
func JSON() ([]byte, error) {
	b, err := yaml.YAMLToJSON(YAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return b, nil
}

// Handler serves the document as JSON (GET /api/openapi.json). It is
// converted once, here, so a broken document stops the process at start
// rather than failing a request. The ETag lets a client keep its copy
// until the binary changes.
func Handler() (http.Handler, error) {
	doc, err := JSON()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache") // revalidate: the ETag answers 304
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	}), nil
}

// Package validate checks the deploy/ directory offline, in CI: every
// Kubernetes manifest decodes strictly into the k8s.io/api types, the
// kustomization lists every file, and the manifests, compose.yaml and the
// Dockerfile agree with each other and with the code (the parts, the
// configuration variables documented in README.md, the port, the probe
// paths, the image). It is its own module so the main module never pulls
// the Kubernetes libraries. Run it with
//
//	cd deploy/validate && go test ./...
//
// (-short skips building the static binary the Dockerfile builds).
package validate

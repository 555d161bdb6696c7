package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// MaxBody is the largest request body accepted (64 KiB: every request of the
// API is a few short fields).
const MaxBody = 64 << 10

// Decode reads one JSON object from the request body into v. Every way a
// client can get it wrong becomes a *fault.Error of kind Invalid (or
// TooLarge): empty body, bad JSON, wrong types, unknown fields, trailing data.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err)
		}
		return fault.New(fault.Invalid, "Request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return fault.New(fault.TooLarge, fmt.Sprintf("Request body is larger than %d bytes", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		return fault.New(fault.Invalid, "Request body is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return fault.New(fault.Invalid, "Request body is not valid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fault.New(fault.Invalid, "Request body must be a JSON object")
		}
		return &fault.Error{Kind: fault.Invalid, Field: typeErr.Field,
			Message: fmt.Sprintf("%s must be a %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fault.Error{Kind: fault.Invalid, Field: name, Message: fmt.Sprintf("Unknown field %q", name)}
	}
	return fault.New(fault.Invalid, "Request body could not be read")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "struct", "map", "ptr", "interface":
		return "JSON value of the right shape"
	}
	return "number"
}

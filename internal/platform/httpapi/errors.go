// Package httpapi is the HTTP edge every service shares: decoding JSON
// bodies into clear 4xx errors, the one mapping from fault kinds to status
// codes and the {"errors":[...]} body, the current-user and require-auth
// middleware, request logging, client addresses behind trusted proxies,
// health endpoints and JSON 404/405 for unknown routes.
package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// ErrorItem is one entry of an error body.
type ErrorItem struct {
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Errors []ErrorItem `json:"errors"`
}

var statusOf = map[fault.Kind]int{
	fault.Invalid:      http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.NotFound:     http.StatusNotFound,
	fault.TooLarge:     http.StatusRequestEntityTooLarge,
	fault.TooMany:      http.StatusTooManyRequests,
	fault.Declined:     http.StatusPaymentRequired,
	fault.Unavailable:  http.StatusServiceUnavailable,
	fault.Forbidden:    http.StatusForbidden,
	fault.Conflict:     http.StatusConflict,
}

// Error writes err as a JSON error response. It is the one place that maps
// errors to status codes: fault.Problems → 400 with every field, a
// *fault.Error → its kind's status, anything else → 500 with a bland message
// (the real error is logged by the Log middleware).
func Error(w http.ResponseWriter, r *http.Request, err error) {
	var (
		problems fault.Problems
		fe       *fault.Error
		status   int
	)
	switch {
	case errors.As(err, &problems):
		body := ErrorBody{Errors: make([]ErrorItem, len(problems))}
		for i, p := range problems {
			body.Errors[i] = ErrorItem{Message: p.Message, Field: p.Field, Code: "invalid"}
		}
		Respond(w, http.StatusBadRequest, body)
	case errors.As(err, &fe) && statusOf[fe.Kind] != 0: // Internal and unknown kinds are 500s
		status = statusOf[fe.Kind]
		if fe.Kind == fault.Unavailable {
			// The request log names what is down (the database's
			// "connection refused"); the caller sees only the message.
			recordError(r, err)
		}
		if fe.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(fe.RetryAfter.Seconds()))))
		}
		Respond(w, status, ErrorBody{Errors: []ErrorItem{{Message: fe.Message, Field: fe.Field, Code: fe.CodeOf()}}})
	default:
		recordError(r, err)
		Respond(w, http.StatusInternalServerError, ErrorBody{Errors: []ErrorItem{{Message: "Something went wrong", Code: "internal"}}})
	}
}

// Respond writes v as JSON with the status. A nil v writes no body.
//
// Every answer says nosniff, so no browser runs a JSON body that holds a
// user's text as HTML or script, and no-store: API answers carry a
// person's data (orders, account) or change with every reservation (the
// ticket list), and a cache keyed on the URL alone would serve one
// person's answer to another, or a sold ticket as on sale. A handler that
// wants its answer cached sets Cache-Control before calling Respond.
func Respond(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

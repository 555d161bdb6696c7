// Package fault holds the kinds of failure a service reports to its callers.
//
// Services declare their sentinel errors with a Kind (orders.ErrNotFound is a
// NotFound); the HTTP edge (package httpapi) is the one place that turns a
// Kind into a status code. Services thereby never know about HTTP, and the
// edge never knows about a particular service's errors.
package fault

import (
	"strings"
	"time"
)

// Kind says what went wrong from the caller's point of view.
type Kind int

const (
	// Internal is anything not caused by the caller; its message is never shown.
	Internal Kind = iota
	// Invalid is a request that breaks a rule (bad field, wrong state).
	Invalid
	// Unauthorized is a caller who is not signed in or does not own the thing.
	Unauthorized
	// NotFound is an unknown (or malformed) id.
	NotFound
	// TooLarge is a request body over the limit.
	TooLarge
	// TooMany is a caller over a rate or quota limit.
	TooMany
	// Declined is a payment the provider refused.
	Declined
	// Unavailable is a dependency that is down or saturated; try again later.
	Unavailable
	// Forbidden is a signed-in caller who may not do this (not an
	// organizer, not the event's organizer).
	Forbidden
	// Conflict is a request the thing's current state cannot take, though
	// the request itself is fine (an event not on sale yet, sold out).
	Conflict
)

// Error is a failure of a known Kind with a message fit for the caller.
type Error struct {
	Kind    Kind
	Message string
	// Code is a stable machine-readable name a client matches on, since
	// messages may be reworded (DESIGN.md section 3). Empty means the
	// kind's own code (CodeOf).
	Code string
	// Field names the input field at fault, for validation errors.
	Field string
	// RetryAfter, when set, tells the caller when trying again can succeed.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// codeOf is each kind's code, for an error that names none of its own.
var codeOf = map[Kind]string{
	Internal:     "internal",
	Invalid:      "invalid",
	Unauthorized: "unauthorized",
	NotFound:     "not_found",
	TooLarge:     "too_large",
	TooMany:      "rate_limited",
	Declined:     "declined",
	Unavailable:  "unavailable",
	Forbidden:    "forbidden",
	Conflict:     "conflict",
}

// CodeOf is the code a client sees for e: its own, or its kind's.
func (e *Error) CodeOf() string {
	if e.Code != "" {
		return e.Code
	}
	return codeOf[e.Kind]
}

// Coded returns an Error of the kind with a code of its own and the message.
func Coded(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// New returns an Error of the kind with the message.
func New(kind Kind, message string) *Error {
	return &Error{Kind: kind, Message: message}
}

// Problem is one invalid field.
type Problem struct {
	Field   string
	Message string
}

// Problems collects validation failures so a caller sees all of them at once.
// Its zero value is ready to use.
type Problems []Problem

// Add records that field is invalid, with a message a person understands.
func (p *Problems) Add(field, message string) {
	*p = append(*p, Problem{Field: field, Message: message})
}

// Err returns nil when nothing was added, or the problems as an error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return p
}

func (p Problems) Error() string {
	msgs := make([]string, len(p))
	for i, pr := range p {
		msgs[i] = pr.Field + ": " + pr.Message
	}
	return "invalid: " + strings.Join(msgs, "; ")
}

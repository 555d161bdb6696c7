// Package ids holds the one rule of what an id looks like, for every
// service: in a path, a request body and an event payload alike. Ids are
// opaque strings chosen by their owning service (UUIDs today); the rule
// only keeps out what can never be one, so the same malformed id gets the
// same answer everywhere — 404 for a path or body, a terminated message
// for an event — instead of whatever each engine does with it (PostgreSQL
// refuses a NUL or invalid UTF-8 in TEXT with an error, a 500; a dot or a
// wildcard breaks the NATS subject an order id is put in).
package ids

// MaxLen bounds an id: a UUID is 36 characters, and no service's id needs
// more than this.
const MaxLen = 64

// Valid reports whether s can be an id: 1 to MaxLen characters, each an
// ASCII letter, digit, '-' or '_'. That is safe in a URL path, a SQL TEXT
// on every engine, a log line and a NATS subject token.
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

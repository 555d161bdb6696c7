// Package events holds the contracts between services: the JetStream stream,
// the subjects and the payload of every event. It is the only package two
// services share, and it holds nothing else.
//
// Prices in events are integer cents (the HTTP API shows dollars). Times are
// RFC 3339 in UTC. Every versioned payload carries the version of the record
// after the change, so a replica applies it only when it is its own version+1.
package events

// Stream is the JetStream stream that holds every event but session
// revocations.
const Stream = "TICKETING"

// StreamSubjects are the subjects the stream captures.
var StreamSubjects = []string{"ticket.>", "order.>", "expiration.>", "payment.>", "event.>", "payout.>"}

// SessionsStream holds session revocations, apart from the other events:
// every process that serves an API reads it with an ordered consumer of
// its own, which NATS permissions can allow on this stream without letting
// a part near another part's durable consumers on Stream. It keeps a
// revocation only as long as it can matter (the longest token lifetime).
const SessionsStream = "SESSIONS"

// SessionsStreamSubjects are the subjects SessionsStream captures.
var SessionsStreamSubjects = []string{"session.>"}

// Subject is a NATS subject an event is published on. It is an alias of
// string so that the platform packages (outbox, natsbus) can accept any
// event without importing this package.
type Subject = string

// Event is a payload that knows its subject.
type Event interface {
	Subject() Subject
}

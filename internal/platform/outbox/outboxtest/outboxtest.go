// Package outboxtest reads the events waiting in a service's outbox, for
// tests whose outbox is never relayed.
package outboxtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Message is one event waiting in the outbox.
type Message struct {
	Subject string
	Payload []byte
}

// Decode decodes the payload into v, failing the test when it is not one.
func (m Message) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(m.Payload, v); err != nil {
		tb.Fatalf("decode %s %s: %v", m.Subject, m.Payload, err)
	}
}

// Pending returns the events waiting in db's outbox, oldest first.
func Pending(tb testing.TB, db *sqldb.DB) []Message {
	tb.Helper()
	rows, err := db.Read().QueryContext(context.Background(), `SELECT subject, payload FROM outbox ORDER BY id`)
	if err != nil {
		tb.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var payload string
		if err := rows.Scan(&m.Subject, &payload); err != nil {
			tb.Fatal(err)
		}
		m.Payload = []byte(payload)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Payloads returns the payloads of the events waiting in db's outbox on
// subject, oldest first, each decoded into a T.
func Payloads[T any](tb testing.TB, db *sqldb.DB, subject string) []T {
	tb.Helper()
	var out []T
	for _, m := range Pending(tb, db) {
		if m.Subject != subject {
			continue
		}
		var v T
		m.Decode(tb, &v)
		out = append(out, v)
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// revocationsKept is how long the SESSIONS stream keeps a revocation and
// how far back a process replays them at start: session.MaxTTL, widened
// for clocks that disagree (the NATS server stamps the messages and drops
// them, auth sets the expiries). Revocations that have stopped mattering
// are dropped as they come.
const revocationsKept = session.MaxTTL + 5*time.Minute

// catchUpTimeout bounds the replay at start: a process that cannot learn
// which sessions are revoked must not serve.
const catchUpTimeout = time.Minute

// followRevocations feeds revoked with every session.revoked still in
// force, then with every new one, in this process (each replica of each
// part sees all of them, unlike a durable consumer, which replicas share).
// It returns once the replay is done, so the process serves no request
// before it knows every revocation.
func followRevocations(ctx context.Context, bus *natsbus.Bus, revoked *session.Revocations) (*natsbus.Following, error) {
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	since := time.Now().Add(-revocationsKept)
	f, err := bus.Follow(ctx, events.SessionsStream, events.SubjectSessionRevoked, since, func(data []byte) error {
		var ev events.SessionRevoked
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("decode %s: %w", events.SubjectSessionRevoked, err)
		}
		rv := session.Revocation{UserID: ev.UserID, TokenID: ev.TokenID, ExpiresAt: ev.ExpiresAt}
		if ev.NotBefore != nil {
			rv.NotBefore = *ev.NotBefore
		}
		revoked.Add(rv, time.Now())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoked sessions: %w", err)
	}
	return f, nil
}

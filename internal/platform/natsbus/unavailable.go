package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// ErrUnavailable means NATS could not take a request: the connection is
// closed, draining or reconnecting, nothing answered (no JetStream, a
// stream without a leader during an election or after losing its
// quorum), or the answer did not come in time. Like sqldb.ErrUnavailable
// it is a fault of kind Unavailable: a handler that returns it is retried
// for as long as the outage lasts without using up its deliveries.
var ErrUnavailable error = &fault.Error{Kind: fault.Unavailable, RetryAfter: 5 * time.Second,
	Message: "The service is briefly unavailable; please try again shortly"}

// Err translates the error of a call a service makes to NATS itself (a
// handler that publishes a schedule or purges a subject): NATS out of
// reach becomes ErrUnavailable, wrapping the original; others pass through.
func Err(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !busDown(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func busDown(err error) bool {
	for _, down := range []error{
		nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrConnectionReconnecting,
		nats.ErrDisconnected, nats.ErrNoServers, nats.ErrNoResponders, nats.ErrTimeout,
		jetstream.ErrNoStreamResponse, jetstream.ErrServerShutdown, jetstream.ErrAsyncPublishTimeout,
		context.DeadlineExceeded,
	} {
		if errors.Is(err, down) {
			return true
		}
	}
	// JetStream's own "temporarily unavailable" (no meta leader, a stream
	// without quorum) comes as an API error with status 503.
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable
}

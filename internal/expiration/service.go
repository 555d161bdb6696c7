// Package expiration owns the expiry of pending orders: for every
// order.created it keeps one durable job that publishes expiration.complete
// {orderId} at the order's expiresAt.
//
// The jobs are JetStream message schedules (nats-server 2.12+) stored in the
// TICKETING stream itself, one per order on events.ScheduleSubject(orderID):
// the NATS server fires them, keeps them across its own restarts and fires
// the overdue ones as soon as it is back. So the service has no database, no
// timers and no state of its own; any number of replicas can run, and a
// replica that is down delays nothing that is already scheduled.
package expiration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Config tunes the service. Zero values get defaults.
type Config struct {
	// Now is the clock, used only to tell in the log how far ahead (or how
	// overdue) an expiry is when it is scheduled. Default time.Now.
	Now func() time.Time
}

// Service schedules the expiry of orders.
type Service struct {
	js  jetstream.JetStream
	log *slog.Logger
	now func() time.Time
}

// New returns the service. js must reach the TICKETING stream created by
// natsbus, which allows message schedules.
func New(js jetstream.JetStream, log *slog.Logger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{js: js, log: log, now: cfg.Now}
}

// errInvalidOrder marks an order event that cannot be scheduled
// (no id, an id that is not a subject token, no expiresAt).
var errInvalidOrder = errors.New("invalid order for expiration")

// scheduleAckTimeout bounds the wait for the stream to store a schedule.
const scheduleAckTimeout = 5 * time.Second

// scheduleOrder stores the expiry of an order: at expiresAt the NATS server
// publishes expiration.complete {orderId}. It returns once the stream has
// stored the schedule, so a caller that acks afterwards loses nothing.
//
// Scheduling an order again stores one job, not two: inside the stream's
// duplicate window the server drops the second publish by its message id,
// and after it the new schedule replaces the pending one, since the server
// keeps one schedule per subject (it rolls the subject up). An expiresAt
// already past is accepted by the server and fires at once (within its
// 250 ms minimum timer), which TestPastExpiryFiresAtOnce checks.
func (s *Service) scheduleOrder(ctx context.Context, orderID string, expiresAt time.Time) error {
	return s.schedule(ctx, orderID, expiresAt, scheduleMsgID(orderID))
}

// schedule takes the message id apart so that a test can publish as if the
// duplicate window had passed.
func (s *Service) schedule(ctx context.Context, orderID string, expiresAt time.Time, msgID string) error {
	if err := checkOrderID(orderID); err != nil {
		return err
	}
	if expiresAt.IsZero() {
		return fmt.Errorf("%w: order %s has no expiresAt", errInvalidOrder, orderID)
	}
	data, err := json.Marshal(events.ExpirationComplete{OrderID: orderID})
	if err != nil {
		return fmt.Errorf("encode expiration.complete: %w", err)
	}
	msg := &nats.Msg{Subject: events.ScheduleSubject(orderID), Data: data, Header: nats.Header{}}
	// Not jetstream.WithScheduleAt: it formats the time with RFC 3339 whole
	// seconds, dropping the fraction, so an order would expire up to a second
	// before its expiresAt. RFC 3339 allows fractional seconds and the
	// server parses them, so the expiry fires at expiresAt, not before.
	msg.Header.Set(jetstream.ScheduleHeader, "@at "+expiresAt.UTC().Format(time.RFC3339Nano))
	// A publish whose ack is lost (it reached a stream leader that went
	// away) would otherwise wait out the handler's whole timeout, a minute
	// in which the order is not expired; a bounded wait is an outage the
	// runner retries soon, and the message id makes the retry harmless.
	ctx, cancel := context.WithTimeout(ctx, scheduleAckTimeout)
	defer cancel()
	_, err = s.js.PublishMsg(ctx, msg,
		jetstream.WithScheduleTarget(events.SubjectExpirationComplete),
		// The id is the order's, not the order.created event's: one order has
		// one expiry whatever delivered it. The server strips the id from the
		// expiration.complete it generates.
		jetstream.WithMsgID(msgID))
	if err != nil {
		// NATS out of reach is an outage (natsbus.ErrUnavailable): the
		// runner waits it out without using up the event's deliveries.
		return fmt.Errorf("schedule expiry of order %s: %w", orderID, natsbus.Err(err))
	}
	s.log.Debug("expiry scheduled", "order_id", orderID, "expires_at", expiresAt, "due_in", expiresAt.Sub(s.now()))
	return nil
}

// unschedule drops the pending expiry of an order, if any. Only the
// order's own schedule subject is purged; the expiration.complete messages
// already fired stay in the stream.
func (s *Service) unschedule(ctx context.Context, orderID string) error {
	if err := checkOrderID(orderID); err != nil {
		return err
	}
	stream, err := s.js.Stream(ctx, events.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.Stream, natsbus.Err(err))
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(events.ScheduleSubject(orderID))); err != nil {
		return fmt.Errorf("purge expiry of order %s: %w", orderID, natsbus.Err(err))
	}
	return nil
}

func scheduleMsgID(orderID string) string { return "expiration-schedule-" + orderID }

// checkOrderID refuses ids that are not ids (ids.Valid): order ids are
// opaque strings, but this service puts them in a subject, and a publish
// to an invalid subject would fail on every delivery; failing permanently
// at once gets the event logged with its id instead.
func checkOrderID(id string) error {
	if !ids.Valid(id) {
		return fmt.Errorf("%w: order id %q is not an id", errInvalidOrder, id)
	}
	return nil
}

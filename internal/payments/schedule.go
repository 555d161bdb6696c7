package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

// Payout runs are started by payout.due, which JetStream message
// schedules in the TICKETING stream fire (as expiration's are): one per
// event, at its end plus PAYOUT_HOLD, on events.PayoutScheduleSubject
// (moving the event's date moves that one schedule, not one per order),
// and one repeating sweep (events.PayoutSweepSubject, every PAYOUT_SWEEP)
// for what no event schedule covers: free-form sales, payees who connected
// an account after their event's run, and runs cut short. The server
// keeps the schedules across restarts and fires the overdue ones when it
// is back, so payments holds no timer of its own.

// DefaultPayoutSweep is how often the sweep runs (PAYOUT_SWEEP).
const DefaultPayoutSweep = time.Hour

// scheduleTimeout bounds the wait for the stream to store a schedule.
const scheduleTimeout = 5 * time.Second

// EnablePayoutSchedules lets the service keep payout schedules in js's
// TICKETING stream (created by natsbus with schedules allowed), and
// makes sure the sweep runs every sweep: it is (re)published when it is
// missing or repeats at another interval, and left alone otherwise, so a
// restart does not push it back.
func (s *Service) EnablePayoutSchedules(ctx context.Context, js jetstream.JetStream, sweep time.Duration) error {
	if sweep < time.Second {
		return fmt.Errorf("payout sweep %s: the schedules' least interval is a second", sweep)
	}
	s.js = js
	pattern := "@every " + sweep.String()
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return fmt.Errorf("payout sweep: stream %s: %w", events.Stream, natsbus.Err(err))
	}
	last, err := stream.GetLastMsgForSubject(ctx, events.PayoutSweepSubject)
	switch {
	case err == nil && last.Header.Get(jetstream.ScheduleHeader) == pattern:
		return nil
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("payout sweep: %w", natsbus.Err(err))
	}
	return s.publishSchedule(ctx, events.PayoutSweepSubject, pattern, events.PayoutDue{}, "")
}

// schedulePayouts keeps the payout schedule of an event in step with the
// replica's view of it: at its end plus the hold, or none once it is
// cancelled (its sales are refunded). It reads the replica rather than the
// event, so a redelivered older event schedules what is current. version
// names the publish, so a redelivery inside the duplicate window stores
// nothing new.
func (s *Service) schedulePayouts(ctx context.Context, eventID string, version int64) error {
	if s.js == nil {
		return nil
	}
	starts, ends, cancelled, found, err := s.store.EventPayoutState(ctx, eventID)
	if err != nil || !found {
		return err
	}
	subject := events.PayoutScheduleSubject(eventID)
	if cancelled {
		stream, err := s.js.Stream(ctx, events.Stream)
		if err != nil {
			return fmt.Errorf("stream %s: %w", events.Stream, natsbus.Err(err))
		}
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return fmt.Errorf("drop payout schedule of event %s: %w", eventID, natsbus.Err(err))
		}
		return nil
	}
	due, ok := DueAt(eventID, starts, ends, time.Time{}, s.cfg.PayoutHold)
	if !ok {
		return nil
	}
	// RFC 3339 with the fraction: the server parses it, and a payout is
	// never due before its time (see expiration's schedule).
	return s.publishSchedule(ctx, subject, "@at "+due.UTC().Format(time.RFC3339Nano),
		events.PayoutDue{EventID: eventID}, "payout-schedule-"+eventID+"-"+strconv.FormatInt(version, 10))
}

// publishSchedule stores a message schedule on subject firing ev.
func (s *Service) publishSchedule(ctx context.Context, subject, pattern string, ev events.PayoutDue, msgID string) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ev.Subject(), err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.ScheduleHeader, pattern)
	opts := []jetstream.PublishOpt{jetstream.WithScheduleTarget(ev.Subject())}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, cancel := context.WithTimeout(ctx, scheduleTimeout)
	defer cancel()
	if _, err := s.js.PublishMsg(ctx, msg, opts...); err != nil {
		return fmt.Errorf("payout schedule %s: %w", subject, natsbus.Err(err))
	}
	return nil
}

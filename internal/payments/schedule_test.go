package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// scheduled starts a service on the wall clock with a short hold, its
// payout schedules and listeners on a fresh embedded bus.
func scheduled(t *testing.T, db *sqldb.DB, hold time.Duration) (*payments.Service, *payments.Sandbox, *natsbus.Bus) {
	t.Helper()
	log := natsbustest.Logger(t)
	sandbox := payments.NewSandbox().(*payments.Sandbox)
	ob := outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{})
	svc := payments.New(db, ob, log, payments.Config{Provider: sandbox, PayoutHold: hold})
	bus := natsbustest.Embedded(t)
	if err := svc.EnablePayoutSchedules(context.Background(), bus.JetStream(), time.Hour); err != nil {
		t.Fatal(err)
	}
	l, err := bus.Listen(context.Background(), "payments", svc.Listeners(), natsbus.ListenConfig{
		Backoff: func(uint64) time.Duration { return 20 * time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return svc, sandbox, bus
}

// lastSchedule is the schedule header stored on subject, "" for none.
func lastSchedule(t *testing.T, bus *natsbus.Bus, subject string) (pattern string, seq uint64) {
	t.Helper()
	ctx := context.Background()
	stream, err := bus.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Header.Get(jetstream.ScheduleHeader), m.Sequence
}

// An event's payout schedule fires at its end plus the hold and the run
// it starts pays its sales once; the schedule follows the event when it
// moves and goes with its cancellation; the sweep is stored once however
// often the service starts.
func TestPayoutScheduleFiresAtEventEnd(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		const hold = 500 * time.Millisecond
		svc, sandbox, bus := scheduled(t, db, hold)

		if _, _, err := svc.ConnectAccount(ctx, "org", "org@example.com", "", ""); err != nil {
			t.Fatal(err)
		}
		err := svc.AddOrder(ctx, payments.Order{ID: "o-1", UserID: "buyer", Price: 2500, Fee: 300,
			SellerID: "org", Payee: events.PayeeOrganizer, EventID: "ev-1", Status: events.StatusCreated,
			ExpiresAt: time.Now().Add(15 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Pay(ctx, "buyer", "o-1", "tok_visa"); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		end := now.Add(time.Second)
		publish(t, bus, events.EventCreated{EventState: events.EventState{ID: "ev-1", StartsAt: now.Add(500 * time.Millisecond), EndsAt: end}})
		natsbustest.Eventually(t, 20*time.Second, "the event's payout", func() bool {
			return len(sandbox.Transfers()) == 1
		})
		if tr := sandbox.Transfers()[0]; tr.TransferGroup != "o-1" || tr.Amount != 2500 {
			t.Errorf("transfer = %+v, want order o-1's price", tr)
		}
		if got := time.Now(); got.Before(end.Add(hold)) {
			t.Errorf("paid out at %v, before the event's end plus the hold %v", got, end.Add(hold))
		}

		// A second event, moved and then cancelled.
		ev := events.EventState{ID: "ev-2", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)}
		publish(t, bus, events.EventCreated{EventState: ev})
		subject := events.PayoutScheduleSubject("ev-2")
		// The replica keeps milliseconds.
		at := func(end time.Time) string {
			return "@at " + time.UnixMilli(end.UnixMilli()).Add(hold).UTC().Format(time.RFC3339Nano)
		}
		want := at(ev.EndsAt)
		natsbustest.Eventually(t, 10*time.Second, "ev-2's schedule", func() bool {
			p, _ := lastSchedule(t, bus, subject)
			return p == want
		})
		ev.Version, ev.EndsAt = 1, ev.EndsAt.Add(24*time.Hour)
		publish(t, bus, events.EventUpdated{EventState: ev})
		want = at(ev.EndsAt)
		natsbustest.Eventually(t, 10*time.Second, "ev-2's schedule to move", func() bool {
			p, _ := lastSchedule(t, bus, subject)
			return p == want
		})
		ev.Version, ev.Status = 2, events.EventStatusCancelled
		publish(t, bus, events.EventCancelled{EventState: ev})
		natsbustest.Eventually(t, 10*time.Second, "ev-2's schedule to go", func() bool {
			p, _ := lastSchedule(t, bus, subject)
			return p == ""
		})

		sweep, seq := lastSchedule(t, bus, events.PayoutSweepSubject)
		if sweep != "@every 1h0m0s" {
			t.Fatalf("sweep schedule %q", sweep)
		}
		if err := svc.EnablePayoutSchedules(ctx, bus.JetStream(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, again := lastSchedule(t, bus, events.PayoutSweepSubject); again != seq {
			t.Errorf("a restart stored the sweep again (seq %d, was %d): it would push the sweep back", again, seq)
		}
	}, migs...)
}

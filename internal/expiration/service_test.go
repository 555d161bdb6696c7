package expiration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// The tests run against a real embedded NATS server: the scheduling is the
// server's, so a fake would test nothing. Each test has its own server.

func TestExpiryFiresOnceAtExpiresAt(t *testing.T) {
	t.Parallel()
	bus := natsbustest.Embedded(t)
	w := watch(t, bus.JetStream())
	listen(t, bus)

	// A fraction of a second on purpose: the schedule must keep it, or the
	// expiry fires before expiresAt.
	due := time.Now().Add(1500 * time.Millisecond)
	publish(t, bus, orderCreated("o1", due))

	f := w.waitFor(t, "o1", 1, 10*time.Second)[0]
	checkOnTime(t, f, due)
	t.Logf("due %s, stored %+v late, received %+v late",
		due.Format(time.StampMilli), f.Stored.Sub(due), f.Received.Sub(due))

	// The server purges a one-shot schedule once it has fired, so nothing
	// is left that could fire again.
	natsbustest.Eventually(t, 5*time.Second, "the fired schedule to be purged", func() bool {
		return !pendingSchedule(t, bus.JetStream(), "o1")
	})
	if got := len(w.of("o1")); got != 1 {
		t.Errorf("order o1 fired %d times, want 1", got)
	}
}

func TestRedeliveredOrderCreatedFiresOnce(t *testing.T) {
	t.Parallel()
	bus := natsbustest.Embedded(t)
	w := watch(t, bus.JetStream())
	listen(t, bus)

	due := time.Now().Add(time.Second)
	// Two deliveries of one order.created (the relay re-published it, or the
	// ack was lost) and, last, a later order whose expiry proves that any
	// second expiry of o1 would have been seen by then.
	ev := orderCreated("o1", due)
	publish(t, bus, ev)
	publish(t, bus, ev)
	publish(t, bus, orderCreated("later", due.Add(time.Second)))

	w.waitFor(t, "later", 1, 10*time.Second)
	fs := w.of("o1")
	if len(fs) != 1 {
		t.Fatalf("order o1 fired %d times, want 1: %+v", len(fs), fs)
	}
	checkOnTime(t, fs[0], due)
}

// A redelivery after the stream's duplicate window is not dropped by its
// message id: it must replace the pending schedule, not add a second one.
func TestRescheduleAfterDuplicateWindowReplaces(t *testing.T) {
	t.Parallel()
	bus := natsbustest.Embedded(t)
	w := watch(t, bus.JetStream())
	svc := New(bus.JetStream(), natsbustest.Logger(t), Config{})
	ctx := context.Background()

	due := time.Now().Add(time.Second)
	for _, msgID := range []string{"first", "second"} {
		if err := svc.schedule(ctx, "o1", due, msgID); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.scheduleOrder(ctx, "later", due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	w.waitFor(t, "later", 1, 10*time.Second)
	if fs := w.of("o1"); len(fs) != 1 {
		t.Fatalf("order o1 fired %d times, want 1: %+v", len(fs), fs)
	}
}

// The server takes an @at time already past and fires it at once (within
// its 250 ms minimum timer), so an order.created that arrives after its
// expiresAt (a long outage of this service) still expires the order.
func TestPastExpiryFiresAtOnce(t *testing.T) {
	t.Parallel()
	bus := natsbustest.Embedded(t)
	w := watch(t, bus.JetStream())
	listen(t, bus)

	sent := time.Now()
	publish(t, bus, orderCreated("o1", sent.Add(-time.Hour)))

	f := w.waitFor(t, "o1", 1, 10*time.Second)[0]
	if d := f.Received.Sub(sent); d >= time.Second {
		t.Errorf("overdue order fired %v after its order.created, want under 1s", d)
	}
	t.Logf("overdue order fired %v after its order.created was published", f.Received.Sub(sent))
}

func TestCancelledOrderDoesNotExpire(t *testing.T) {
	t.Parallel()
	bus := natsbustest.Embedded(t)
	w := watch(t, bus.JetStream())
	listen(t, bus)
	js := bus.JetStream()

	due := time.Now().Add(1500 * time.Millisecond)
	publish(t, bus, orderCreated("o1", due))
	// order.created and order.cancelled have separate consumers: wait for
	// the schedule before cancelling, as orders can only cancel an order
	// that exists.
	natsbustest.Eventually(t, 5*time.Second, "the schedule of o1", func() bool { return pendingSchedule(t, js, "o1") })
	publish(t, bus, events.OrderCancelled{ID: "o1", Version: 1, Ticket: events.OrderTicket{ID: "t-o1"}})
	natsbustest.Eventually(t, 5*time.Second, "the schedule of o1 to be purged", func() bool { return !pendingSchedule(t, js, "o1") })

	publish(t, bus, orderCreated("later", due.Add(500*time.Millisecond)))
	w.waitFor(t, "later", 1, 10*time.Second)
	if fs := w.of("o1"); len(fs) != 0 {
		t.Fatalf("cancelled order o1 fired %d times, want 0", len(fs))
	}
}

// The whole process stops (service and embedded NATS, as `ticketing up`
// being restarted) and starts again on the same data dir. An expiry that
// fell due while it was down fires as soon as it is back; one due later
// fires on time.
func TestSchedulesSurviveRestartOfEmbeddedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	connect := func() *natsbus.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := natsbus.Connect(ctx, natsbus.Config{DataDir: dir, Name: t.Name(), Stream: natsbustest.Stream}, natsbustest.Logger(t))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return b
	}

	bus := connect()
	t.Cleanup(bus.Close) // if the test stops early; closing twice is harmless
	l := listen(t, bus)
	now := time.Now()
	whileDown := now.Add(time.Second)
	afterRestart := now.Add(4 * time.Second)
	publish(t, bus, orderCreated("while-down", whileDown), orderCreated("after-restart", afterRestart))
	for _, id := range []string{"while-down", "after-restart"} {
		natsbustest.Eventually(t, 5*time.Second, "the schedule of "+id, func() bool { return pendingSchedule(t, bus.JetStream(), id) })
	}
	l.Stop()
	bus.Close()

	// Stay down past the first due time. This waits on the clock itself,
	// the condition under test, not on another goroutine.
	<-time.After(time.Until(whileDown.Add(300 * time.Millisecond)))

	restarted := time.Now()
	bus = connect()
	t.Cleanup(bus.Close)
	w := watch(t, bus.JetStream())
	listen(t, bus)

	f := w.waitFor(t, "while-down", 1, 10*time.Second)[0]
	if f.Stored.Before(restarted) {
		t.Fatalf("while-down fired at %s, before the restart at %s", f.Stored, restarted)
	}
	if d := f.Received.Sub(restarted); d >= time.Second {
		t.Errorf("overdue expiry fired %v after the restart, want under 1s", d)
	}
	t.Logf("overdue expiry fired %v after the restart", f.Received.Sub(restarted))

	checkOnTime(t, w.waitFor(t, "after-restart", 1, 10*time.Second)[0], afterRestart)
	if fs := w.of("while-down"); len(fs) != 1 {
		t.Errorf("while-down fired %d times, want 1", len(fs))
	}
}

// An external NATS server restarts under a running service (`serve`): the
// pending schedule survives and fires, and the service keeps scheduling
// once its connection is back.
func TestSchedulesSurviveRestartOfExternalServer(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	bus := srv.Connect(t)
	listen(t, bus)

	due := time.Now().Add(2 * time.Second)
	publish(t, bus, orderCreated("before", due))
	natsbustest.Eventually(t, 5*time.Second, "the schedule of before", func() bool { return pendingSchedule(t, bus.JetStream(), "before") })

	srv.Restart(t)
	// A request sent before the client notices the old connection is gone
	// is lost and waits for its deadline: go on once a round trip works.
	natsbustest.Eventually(t, 10*time.Second, "the bus to reconnect", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return bus.Ping(ctx) == nil
	})
	// The watcher starts after the restart and reads the stream from the
	// start, so it sees the expiry whether it fired before it subscribed or
	// after.
	w := watch(t, bus.JetStream())
	checkOnTime(t, w.waitFor(t, "before", 1, 10*time.Second)[0], due)

	// The service's consumer reconnected and schedules new orders.
	due = time.Now().Add(time.Second)
	publish(t, bus, orderCreated("after", due))
	checkOnTime(t, w.waitFor(t, "after", 1, 15*time.Second)[0], due)
}

func TestInvalidOrdersAreRefused(t *testing.T) {
	t.Parallel()
	svc := New(nil, natsbustest.Logger(t), Config{}) // refused before any I/O
	due := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name, id string
		at       time.Time
	}{
		{"empty id", "", due},
		{"wildcard", "a*", due},
		{"full wildcard", ">", due},
		{"space", "a b", due},
		{"empty token", "a..b", due},
		{"trailing dot", "a.", due},
		{"dot", "a.b", due},
		{"NUL", "a\x00b", due},
		{"too long", strings.Repeat("a", 65), due},
		{"no expiresAt", "o1", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := svc.scheduleOrder(context.Background(), tc.id, tc.at)
			if !errors.Is(err, errInvalidOrder) {
				t.Fatalf("scheduleOrder(%q, %v) = %v, want errInvalidOrder", tc.id, tc.at, err)
			}
		})
	}
}

// TestBusOutageIsUnavailable: with NATS down under the service, scheduling
// and unscheduling an order fail with natsbus.ErrUnavailable (a fault of
// kind Unavailable), which the runner retries for as long as the outage
// lasts instead of counting it against the event's deliveries; once NATS
// is back they succeed.
func TestBusOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	bus := srv.Connect(t)
	svc := New(bus.JetStream(), natsbustest.Logger(t), Config{})
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"schedule", func(ctx context.Context) error {
			return svc.onOrderCreated(ctx, orderCreated("o-1", time.Now().Add(time.Hour)))
		}},
		{"unschedule", func(ctx context.Context) error {
			return svc.onOrderCancelled(ctx, events.OrderCancelled{ID: "o-1", Ticket: events.OrderTicket{ID: "t-1"}})
		}},
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.call(ctx)
		cancel()
		var fe *fault.Error
		if !errors.Is(err, natsbus.ErrUnavailable) || !errors.As(err, &fe) || fe.Kind != fault.Unavailable {
			t.Errorf("%s with NATS down: %v, want natsbus.ErrUnavailable", c.name, err)
		}
	}
	srv.Restart(t)
	for _, c := range calls {
		natsbustest.Eventually(t, 10*time.Second, c.name+" once NATS is back", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			return c.call(ctx) == nil
		})
	}
}

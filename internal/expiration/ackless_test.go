package expiration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestScheduleWithoutAckGivesUpSoon: a schedule whose publish is never
// acknowledged (in a cluster, it reached a stream leader that then went
// away) is an outage reported within scheduleAckTimeout, not after the
// handler's whole deadline, so the runner retries it while the expiry can
// still be on time. A subscriber that never answers stands in for the lost
// leader: the publish reaches someone, and no ack comes back.
func TestScheduleWithoutAckGivesUpSoon(t *testing.T) {
	t.Parallel()
	ns := natsbustest.StartServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	const orderID = "01a23245-aec8-706b-a696-2f40ea5b547c"
	sub, err := nc.SubscribeSync(events.ScheduleSubject(orderID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(js, natsbustest.Logger(t), Config{})
	// The handler's deadline: a minute in production.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = svc.scheduleOrder(ctx, orderID, time.Now().Add(time.Minute))
	if took := time.Since(start); took > 2*scheduleAckTimeout {
		t.Fatalf("scheduleOrder gave up after %v, want about %v", took, scheduleAckTimeout)
	}
	if !errors.Is(err, natsbus.ErrUnavailable) {
		t.Fatalf("scheduleOrder = %v, want natsbus.ErrUnavailable", err)
	}
}

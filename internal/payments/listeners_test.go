package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// listening starts the service's listeners on a fresh embedded bus, with
// short redelivery delays so that out-of-order events settle fast.
func listening(t *testing.T, f *fixture) *natsbus.Bus {
	t.Helper()
	bus := natsbustest.Embedded(t)
	l, err := bus.Listen(context.Background(), "payments", f.svc.Listeners(), natsbus.ListenConfig{
		Backoff: func(uint64) time.Duration { return 20 * time.Millisecond },
		// Two deliveries for an ordinary failure: an early event that is
		// refused more often survives only as natsbus.Early.
		MaxDeliver: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return bus
}

// publish sends ev as a new message (its own message id, so the stream's
// de-duplication lets a repeated event through, as a redelivery would).
func publish(t *testing.T, bus *natsbus.Bus, ev events.Event) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := natsbus.Outgoing{ID: uuid.NewString(), Subject: ev.Subject(), Data: data}
	if err := bus.PublishBatch(context.Background(), []natsbus.Outgoing{msg})[0]; err != nil {
		t.Fatalf("publish %s: %v", ev.Subject(), err)
	}
}

// settled waits until the consumer of subject has had every message of
// the stream delivered and acked (or terminated).
func settled(t *testing.T, bus *natsbus.Bus, subject string) {
	t.Helper()
	ctx := context.Background()
	name := natsbus.DurableName("payments", subject)
	natsbustest.Eventually(t, 10*time.Second, name+" to settle", func() bool {
		c, err := bus.JetStream().Consumer(ctx, events.Stream, name)
		if err != nil {
			return false
		}
		// NumPending alone can lag a publish (the server updates a filtered
		// consumer's count asynchronously): also require that the consumer
		// has been delivered the subject's last message.
		stream, err := bus.JetStream().Stream(ctx, events.Stream)
		if err != nil {
			return false
		}
		last, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.Delivered.Stream >= last.Sequence &&
			info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	})
}

func orderCreated(id, userID string, price int64) events.OrderCreated {
	return events.OrderCreated{ID: id, Version: 0, Status: events.StatusCreated, UserID: userID,
		ExpiresAt: time.Date(2030, 1, 2, 3, 30, 0, 0, time.UTC), Ticket: events.OrderTicket{ID: "t-" + id, Price: price}}
}

func TestOnOrderCreatedTwice(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		ev := orderCreated("o-1", "alice", 2050)
		publish(t, bus, ev)
		publish(t, bus, ev)
		settled(t, bus, events.SubjectOrderCreated)
		if n := count(t, db, `SELECT count(*) FROM orders`); n != 1 {
			t.Fatalf("%d replica rows, want 1", n)
		}
		o, err := f.svc.Order(context.Background(), "o-1")
		if err != nil {
			t.Fatal(err)
		}
		want := payments.Order{ID: "o-1", UserID: "alice", Price: 2050, Status: events.StatusCreated,
			Version: 0, ExpiresAt: ev.ExpiresAt}
		if o != want {
			t.Errorf("replica = %+v, want %+v", o, want)
		}
	}, migs...)
}

// order.cancelled before its order.created is redelivered until the order
// is there; a repeated or stale one changes nothing.
func TestOnOrderCancelledOutOfOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		cancelled := events.OrderCancelled{ID: "o-1", Version: 1, Ticket: events.OrderTicket{ID: "t-o-1"}}
		publish(t, bus, cancelled)
		// Wait until the early event has been refused at least once, so
		// the order really arrives after it.
		natsbustest.Eventually(t, 10*time.Second, "order.cancelled to be redelivered", func() bool {
			c, err := bus.JetStream().Consumer(context.Background(), events.Stream,
				natsbus.DurableName("payments", events.SubjectOrderCancelled))
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumRedelivered > 0
		})
		publish(t, bus, orderCreated("o-1", "alice", 2000))
		settled(t, bus, events.SubjectOrderCancelled)
		settled(t, bus, events.SubjectOrderCreated)
		publish(t, bus, cancelled) // a duplicate: acked, ignored
		settled(t, bus, events.SubjectOrderCancelled)
		o, err := f.svc.Order(context.Background(), "o-1")
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != events.StatusCancelled || o.Version != 1 {
			t.Errorf("replica = %+v, want cancelled at version 1", o)
		}
		if w := f.pay("o-1", "tok_visa", token(t, "alice")); w.Code != http.StatusBadRequest {
			t.Errorf("pay a cancelled order: %d %s", w.Code, w.Body)
		}
	}, migs...)
}

func TestCancelOrderVersions(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		ctx := context.Background()
		if err := f.svc.CancelOrder(ctx, "nope", 1); err == nil {
			t.Error("cancel of an unknown order succeeded; want a transient error")
		}
		f.addOrder(t, "o-1", "alice", 2000)
		if err := f.svc.CancelOrder(ctx, "o-1", 3); err == nil {
			t.Error("cancel from the future applied; want a transient error")
		}
		for range 2 {
			if err := f.svc.CancelOrder(ctx, "o-1", 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.CancelOrder(ctx, "o-1", 0); err != nil {
			t.Errorf("stale cancel: %v", err)
		}
		if o, _ := f.svc.Order(ctx, "o-1"); o.Status != events.StatusCancelled || o.Version != 1 {
			t.Errorf("replica = %+v", o)
		}
	}, migs...)
}

// A refund requested twice refunds once.
func TestOnOrderRefundRequestedTwice(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		f.addOrder(t, "o-1", "alice", 2000)
		w := f.pay("o-1", "tok_visa", token(t, "alice"))
		if w.Code != http.StatusCreated {
			t.Fatalf("pay: %d %s", w.Code, w.Body)
		}
		p, err := f.svc.Payment(context.Background(), httpapitest.Decode[idBody](t, w).ID)
		if err != nil {
			t.Fatal(err)
		}
		ev := events.OrderRefundRequested{OrderID: "o-1", PaymentID: p.ID, StripeID: p.StripeID}
		publish(t, bus, ev)
		publish(t, bus, ev)
		// And one for a payment nobody knows: terminated, not retried.
		publish(t, bus, events.OrderRefundRequested{OrderID: "o-2", PaymentID: "nope", StripeID: "x"})
		settled(t, bus, events.SubjectOrderRefundRequested)
		if n := f.sandbox.Refunds(); n != 1 {
			t.Errorf("refunds = %d, want 1", n)
		}
		if !f.sandbox.Refunded(p.StripeID) {
			t.Error("the charge was not refunded")
		}
		p, err = f.svc.Payment(context.Background(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != payments.StatusRefunded {
			t.Errorf("status = %s, want refunded", p.Status)
		}
		if w := f.pay("o-1", "tok_visa", token(t, "alice")); w.Code != http.StatusBadRequest {
			t.Errorf("pay a refunded order: %d %s", w.Code, w.Body)
		}
	}, migs...)
}

// TestRefundWaitsOutProviderOutage: a refund the provider cannot take (it
// is unreachable) is retried for as long as that lasts, well past the
// delivery limit of a message that fails on its own, and made once it is
// back.
func TestRefundWaitsOutProviderOutage(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		sandbox := payments.NewSandbox().(*payments.Sandbox)
		var refusals atomic.Int32
		const outage = 6 // the listeners' MaxDeliver is 2
		f := newFixture(t, db, &hookProvider{Provider: sandbox, beforeRefund: func(context.Context, payments.RefundRequest) error {
			if refusals.Add(1) <= outage {
				return errors.New("stripe: create refund: dial tcp: connection refused")
			}
			return nil
		}})
		bus := listening(t, f)
		f.addOrder(t, "o-1", "alice", 2000)
		w := f.pay("o-1", "tok_visa", token(t, "alice"))
		if w.Code != http.StatusCreated {
			t.Fatalf("pay: %d %s", w.Code, w.Body)
		}
		p, err := f.svc.Payment(context.Background(), httpapitest.Decode[idBody](t, w).ID)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, bus, events.OrderRefundRequested{OrderID: "o-1", PaymentID: p.ID, StripeID: p.StripeID})
		settled(t, bus, events.SubjectOrderRefundRequested)
		if n := refusals.Load(); n != outage+1 {
			t.Errorf("refund tried %d times, want %d during the outage and 1 after", n, outage)
		}
		if !sandbox.Refunded(p.StripeID) {
			t.Error("the charge was not refunded once the provider was back")
		}
	}, migs...)
}

// A refund that reached the provider but was not recorded (a crash) is
// replayed under the same key: still one refund.
func TestRefundReplayed(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		ctx := context.Background()
		f.addOrder(t, "o-1", "alice", 2000)
		p, err := f.svc.Pay(ctx, "alice", "o-1", "tok_visa")
		if err != nil {
			t.Fatal(err)
		}
		// The provider refunded, the service never heard.
		if err := f.sandbox.Refund(ctx, payments.RefundRequest{ChargeID: p.StripeID, IdempotencyKey: "refund-" + p.ID}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Refund(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Refund(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.sandbox.Refunds(); n != 1 {
			t.Errorf("refunds = %d, want 1", n)
		}
	}, migs...)
}

// TestMalformedOrderIDRefused: an order event whose id is not an id
// (ids.Valid) is refused the same way on every engine, never stored.
func TestMalformedOrderIDRefused(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		for _, id := range []string{"a.b", "a\x00b", "a b", string(make([]byte, 65))} {
			publish(t, bus, orderCreated(id, "alice", 100))
			publish(t, bus, events.OrderCancelled{ID: id, Version: 1})
		}
		publish(t, bus, orderCreated("o-1", "alice", 100))
		publish(t, bus, events.OrderCancelled{ID: "o-1", Version: 1})
		settled(t, bus, events.SubjectOrderCreated)
		settled(t, bus, events.SubjectOrderCancelled)
		if n := count(t, db, `SELECT count(*) FROM orders`); n != 1 {
			t.Fatalf("%d replica rows, want 1", n)
		}
	}, migs...)
}

// TestOnOrderCompleted: the replica takes the completion by the replica
// rule, so its version stays the order's.
func TestOnOrderCompleted(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db, nil)
		bus := listening(t, f)
		done := events.OrderCompleted{ID: "o-1", Version: 1, UserID: "alice", Ticket: events.OrderTicket{ID: "t-o-1"}}
		publish(t, bus, done) // before its order.created: waits for it
		publish(t, bus, orderCreated("o-1", "alice", 100))
		natsbustest.Eventually(t, 10*time.Second, "replica complete at v1", func() bool {
			o, err := f.svc.Order(context.Background(), "o-1")
			return err == nil && o.Status == events.StatusComplete && o.Version == 1
		})
	}, migs...)
}

package expiration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// listen runs the service's listeners on bus the way the wiring does, until
// the test ends or the returned Listening is stopped.
func listen(tb testing.TB, bus *natsbus.Bus) *natsbus.Listening {
	tb.Helper()
	svc := New(bus.JetStream(), natsbustest.Logger(tb), Config{})
	l, err := bus.Listen(context.Background(), "expiration", svc.Listeners(), natsbus.ListenConfig{})
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tb.Cleanup(l.Stop)
	return l
}

// publish puts events on the bus as the orders outbox relay would, each
// with its own event id.
func publish(tb testing.TB, bus *natsbus.Bus, evs ...events.Event) {
	tb.Helper()
	msgs := make([]natsbus.Outgoing, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		msgs[i] = natsbus.Outgoing{ID: fmt.Sprintf("evt-%d-%d", time.Now().UnixNano(), i), Subject: ev.Subject(), Data: data}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, err := range bus.PublishBatch(ctx, msgs) {
		if err != nil {
			tb.Fatalf("publish %s: %v", msgs[i].Subject, err)
		}
	}
}

func orderCreated(id string, expiresAt time.Time) events.OrderCreated {
	return events.OrderCreated{
		ID: id, Version: 0, Status: events.StatusCreated, UserID: "u1",
		ExpiresAt: expiresAt, Ticket: events.OrderTicket{ID: "t-" + id, Price: 2000},
	}
}

// firing is one expiration.complete seen by a watcher.
type firing struct {
	OrderID  string
	Received time.Time // when the watcher got it: what a listener sees
	Stored   time.Time // when the stream stored it: when the schedule fired
}

// watcher records every expiration.complete in the stream, from the first.
type watcher struct {
	mu     sync.Mutex
	got    []firing
	notify chan struct{}
	cc     jetstream.ConsumeContext
}

func watch(tb testing.TB, js jetstream.JetStream) *watcher {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectExpirationComplete},
	})
	if err != nil {
		tb.Fatalf("ordered consumer: %v", err)
	}
	w := &watcher{notify: make(chan struct{}, 1)}
	w.cc, err = cons.Consume(func(m jetstream.Msg) {
		f := firing{Received: time.Now()}
		var ev events.ExpirationComplete
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			ev.OrderID = "undecodable: " + err.Error()
		}
		f.OrderID = ev.OrderID
		if meta, err := m.Metadata(); err == nil {
			f.Stored = meta.Timestamp
		}
		w.mu.Lock()
		w.got = append(w.got, f)
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	})
	if err != nil {
		tb.Fatalf("consume: %v", err)
	}
	tb.Cleanup(w.cc.Stop)
	return w
}

func (w *watcher) snapshot() []firing {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]firing(nil), w.got...)
}

// of returns the firings for one order.
func (w *watcher) of(orderID string) []firing {
	var out []firing
	for _, f := range w.snapshot() {
		if f.OrderID == orderID {
			out = append(out, f)
		}
	}
	return out
}

// waitFor waits until orderID has fired at least n times, or fails the
// test at the deadline.
func (w *watcher) waitFor(tb testing.TB, orderID string, n int, timeout time.Duration) []firing {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if fs := w.of(orderID); len(fs) >= n {
			return fs
		}
		select {
		case <-w.notify:
		case <-deadline.C:
			tb.Fatalf("order %s: %d expiration.complete within %v, want %d (all: %+v)",
				orderID, len(w.of(orderID)), timeout, n, w.snapshot())
		}
	}
}

// pendingSchedule reports whether the stream holds a schedule for the order.
func pendingSchedule(tb testing.TB, js jetstream.JetStream, orderID string) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	_, err = stream.GetLastMsgForSubject(ctx, events.ScheduleSubject(orderID))
	switch {
	case err == nil:
		return true
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false
	default:
		tb.Fatalf("get schedule of %s: %v", orderID, err)
		return false
	}
}

// checkOnTime fails the test if f fired before due or a second or more
// after it.
func checkOnTime(tb testing.TB, f firing, due time.Time) {
	tb.Helper()
	// JetStream fires a schedule by the wall clock, so it is judged by the
	// wall clock: Round(0) drops the monotonic readings of due and
	// Received, which a step of the host's clock (a virtual machine's time
	// sync) sets apart from the wall clock. A CI run saw a schedule fired
	// at its due wall time look 10 ms early by the monotonic clock.
	due, f.Received = due.Round(0), f.Received.Round(0)
	if f.Stored.Before(due) || f.Received.Before(due) {
		tb.Errorf("order %s fired early: due %s, stored %s, received %s",
			f.OrderID, due.Format(time.StampMicro), f.Stored.Format(time.StampMicro), f.Received.Format(time.StampMicro))
	}
	if late := f.Received.Sub(due); late >= time.Second {
		tb.Errorf("order %s fired %v late, want under 1s", f.OrderID, late)
	}
}

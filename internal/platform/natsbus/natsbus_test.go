package natsbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// tiny is a backoff that redelivers at once, so tests do not wait.
func tiny(uint64) time.Duration { return time.Millisecond }

func publish(tb testing.TB, b *natsbus.Bus, evs ...events.TicketCreated) {
	tb.Helper()
	msgs := make([]natsbus.Outgoing, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		msgs[i] = natsbus.Outgoing{ID: "evt-" + ev.ID, Subject: string(ev.Subject()), Data: data}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, err := range b.PublishBatch(ctx, msgs) {
		if err != nil {
			tb.Fatalf("publish %s: %v", msgs[i].ID, err)
		}
	}
}

func listen(tb testing.TB, b *natsbus.Bus, service string, cfg natsbus.ListenConfig, fn func(context.Context, events.TicketCreated) error) *natsbus.Listening {
	tb.Helper()
	l, err := b.Listen(context.Background(), service, []natsbus.Listener{natsbus.On(fn)}, cfg)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	return l
}

// consumerInfo reads the durable consumer of service for ticket.created.
func consumerInfo(tb testing.TB, b *natsbus.Bus, service string) *jetstream.ConsumerInfo {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := b.JetStream().Consumer(ctx, events.Stream, natsbus.DurableName(service, events.SubjectTicketCreated))
	if err != nil {
		tb.Fatalf("consumer: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		tb.Fatalf("consumer info: %v", err)
	}
	return info
}

// settled reports whether every message up to streamSeq has been acked or
// terminated and nothing is pending or waiting for an ack.
func settled(tb testing.TB, b *natsbus.Bus, service string, streamSeq uint64) func() bool {
	return func() bool {
		info := consumerInfo(tb, b, service)
		return info.AckFloor.Stream >= streamSeq && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
	}
}

// calls counts handler calls per event id.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *calls) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, n := range c.n {
		t += n
	}
	return t
}

func TestDurableName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service string
		subject events.Subject
		want    string
	}{
		{"orders", events.SubjectTicketCreated, "orders-ticket-created"},
		{"payments", events.SubjectOrderCancelled, "payments-order-cancelled"},
		{"tickets", "a.b.c", "tickets-a-b-c"},
	}
	for _, tc := range tests {
		if got := natsbus.DurableName(tc.service, tc.subject); got != tc.want {
			t.Errorf("DurableName(%q, %q) = %q, want %q", tc.service, tc.subject, got, tc.want)
		}
	}
}

func TestDurableConsumerSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var seen calls
	handler := func(_ context.Context, ev events.TicketCreated) error { seen.add(ev.ID); return nil }
	cfg := natsbus.ListenConfig{Backoff: tiny}

	l := listen(t, b, "svc", cfg, handler)
	publish(t, b, events.TicketCreated{ID: "1"})
	natsbustest.Eventually(t, 5*time.Second, "first delivery", func() bool { return seen.get("1") == 1 })
	natsbustest.Eventually(t, 5*time.Second, "first ack", settled(t, b, "svc", 1))
	l.Stop()

	publish(t, b, events.TicketCreated{ID: "2"})
	if n := seen.get("2"); n != 0 {
		t.Fatalf("delivered to a stopped listener %d times", n)
	}
	info := consumerInfo(t, b, "svc")
	if info.Name != "svc-ticket-created" || info.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("consumer %q ack policy %v", info.Name, info.Config.AckPolicy)
	}

	l = listen(t, b, "svc", cfg, handler)
	defer l.Stop()
	natsbustest.Eventually(t, 5*time.Second, "message published while stopped", func() bool { return seen.get("2") == 1 })
	natsbustest.Eventually(t, 5*time.Second, "second ack", settled(t, b, "svc", 2))
	if n := seen.get("1"); n != 1 {
		t.Errorf("acked message handled %d times, want 1", n)
	}
}

func TestRedeliveryAfterError(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var seen calls
	l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny}, func(ctx context.Context, ev events.TicketCreated) error {
		if seen.add(ev.ID) == 1 {
			return errors.New("transient")
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "1"})
	natsbustest.Eventually(t, 5*time.Second, "redelivery", func() bool { return seen.get("1") == 2 })
	natsbustest.Eventually(t, 5*time.Second, "ack after redelivery", settled(t, b, "svc", 1))
	if n := seen.get("1"); n != 2 {
		t.Errorf("handled %d times, want 2", n)
	}
}

// saysEarly is an error of another package (replica.ErrBehind) that marks
// itself early without importing natsbus.
type saysEarly struct{}

func (saysEarly) Error() string      { return "replica is behind" }
func (saysEarly) EarlyMessage() bool { return true }

func TestTerminatedAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantCalls int
	}{
		{"transient error bounded", errors.New("transient"), 3},
		{"permanent error", natsbus.Permanent(errors.New("bad")), 1},
		{"early message bounded by MaxEarlyDeliver", natsbus.Early(errors.New("version 3 before 2")), 7},
		{"error that says it is early", fmt.Errorf("apply: %w", saysEarly{}), 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := natsbustest.Embedded(t)
			var seen calls
			l := listen(t, b, "svc", natsbus.ListenConfig{MaxDeliver: 3, MaxEarlyDeliver: 7, Backoff: tiny}, func(_ context.Context, ev events.TicketCreated) error {
				seen.add(ev.ID)
				return tc.err
			})
			defer l.Stop()
			publish(t, b, events.TicketCreated{ID: "1"})
			natsbustest.Eventually(t, 5*time.Second, "handler calls", func() bool { return seen.get("1") >= tc.wantCalls })
			// Terminated: the ack floor passes it and nothing is pending, so
			// the server will not deliver it again.
			natsbustest.Eventually(t, 5*time.Second, "termination", settled(t, b, "svc", 1))
			if n := seen.get("1"); n != tc.wantCalls {
				t.Errorf("handler called %d times, want %d", n, tc.wantCalls)
			}
			// A later message still flows, and the terminated one is not
			// delivered with it.
			publish(t, b, events.TicketCreated{ID: "ok"})
			natsbustest.Eventually(t, 5*time.Second, "next message", func() bool { return seen.get("ok") >= 1 })
			natsbustest.Eventually(t, 5*time.Second, "next settled", settled(t, b, "svc", 2))
			if n := seen.get("1"); n != tc.wantCalls {
				t.Errorf("handler called %d times after a later message, want %d", n, tc.wantCalls)
			}
		})
	}
}

// TestOutageNeverUsesUpDeliveries: a handler whose dependency is
// unavailable (a fault of kind Unavailable anywhere in its error's chain:
// the database's, the payment provider's) is retried for as long as the
// outage lasts, far past MaxDeliver and MaxEarlyDeliver, and never
// terminated; once the dependency is back the message is handled, or, if
// it then fails on its own, gets its whole MaxDeliver again.
func TestOutageNeverUsesUpDeliveries(t *testing.T) {
	t.Parallel()
	const outage = 30 // deliveries during the outage, well past both bounds
	dbDown := fmt.Errorf("expire order: %w", fmt.Errorf("%w: dial tcp: connection refused", sqldb.ErrUnavailable))
	tests := []struct {
		name      string
		during    error // returned for the first outage deliveries
		after     error // returned from then on
		wantCalls int
		want      string // the last outcome
	}{
		{"database down, then handled", dbDown, nil, outage + 1, "ack"},
		{"provider down, then handled", fault.New(fault.Unavailable, "provider unreachable"), nil, outage + 1, "ack"},
		{"outage, then failing on its own", dbDown, errors.New("broken"), outage + 3, "terminated"},
		{"outage, then early", dbDown, natsbus.Early(errors.New("2 before 1")), outage + 7, "terminated"},
		{"permanent wins over unavailable", natsbus.Permanent(dbDown), nil, 1, "terminated"},
		{"another kind of fault counts", fault.New(fault.Invalid, "no"), fault.New(fault.Invalid, "no"), 3, "terminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := natsbustest.Embedded(t)
			var (
				seen     calls
				mu       sync.Mutex
				outcomes []string
			)
			observe := func(_, outcome string, _ time.Time, _ time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				outcomes = append(outcomes, outcome)
			}
			cfg := natsbus.ListenConfig{MaxDeliver: 3, MaxEarlyDeliver: 7, Backoff: tiny, Observe: observe}
			l := listen(t, b, "svc", cfg, func(_ context.Context, ev events.TicketCreated) error {
				if seen.add(ev.ID) <= outage {
					return tc.during
				}
				return tc.after
			})
			defer l.Stop()
			publish(t, b, events.TicketCreated{ID: "1"})
			natsbustest.Eventually(t, 10*time.Second, "the message settles", settled(t, b, "svc", 1))
			if n := seen.get("1"); n != tc.wantCalls {
				t.Errorf("handler called %d times, want %d", n, tc.wantCalls)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(outcomes) == 0 || outcomes[len(outcomes)-1] != tc.want {
				t.Fatalf("outcomes %v, want the last %q", outcomes, tc.want)
			}
			if tc.wantCalls > outage {
				for i, o := range outcomes[:outage] {
					if o != "unavailable" {
						t.Errorf("delivery %d during the outage observed as %q, want unavailable", i+1, o)
						break
					}
				}
			}
		})
	}
}

// TestConsumerDeliveryBoundLifted: a durable consumer an older version
// created with a server-side delivery bound (max(20, 400)+2) loses it when
// the service starts again: the server would otherwise stop delivering a
// message after that many outage deliveries.
func TestConsumerDeliveryBoundLifted(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := b.JetStream().CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable:       natsbus.DurableName("svc", events.SubjectTicketCreated),
		FilterSubject: string(events.SubjectTicketCreated),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       5 * time.Second,
		MaxDeliver:    402,
		MaxAckPending: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, b, "svc", natsbus.ListenConfig{}, func(context.Context, events.TicketCreated) error { return nil })
	defer l.Stop()
	if got := consumerInfo(t, b, "svc").Config.MaxDeliver; got != -1 {
		t.Errorf("consumer MaxDeliver = %d, want -1 (unlimited)", got)
	}
}

// TestEarlyMessageWaitsPastMaxDeliver: a message that came before the one
// it depends on is redelivered beyond MaxDeliver and handled once that one
// has arrived.
func TestEarlyMessageWaitsPastMaxDeliver(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var seen calls
	var arrived atomic.Bool
	l := listen(t, b, "svc", natsbus.ListenConfig{MaxDeliver: 3, MaxEarlyDeliver: 100, Backoff: tiny}, func(_ context.Context, ev events.TicketCreated) error {
		n := seen.add(ev.ID)
		if ev.ID == "2" && !arrived.Load() {
			if n == 10 {
				arrived.Store(true) // its predecessor lands meanwhile
			}
			return natsbus.Early(errors.New("2 before 1"))
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "2"})
	natsbustest.Eventually(t, 5*time.Second, "the early message handled", settled(t, b, "svc", 1))
	if n := seen.get("2"); n != 11 {
		t.Errorf("handled %d times, want 10 early deliveries and 1 that succeeds", n)
	}
}

func TestUndecodablePayloadTerminated(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var called atomic.Int32
	l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny}, func(context.Context, events.TicketCreated) error {
		called.Add(1)
		return nil
	})
	defer l.Stop()
	ctx := context.Background()
	errs := b.PublishBatch(ctx, []natsbus.Outgoing{{ID: "bad", Subject: string(events.SubjectTicketCreated), Data: []byte("{not json")}})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	natsbustest.Eventually(t, 5*time.Second, "termination", settled(t, b, "svc", 1))
	if n := called.Load(); n != 0 {
		t.Errorf("handler called %d times with an undecodable payload", n)
	}
	if info := consumerInfo(t, b, "svc"); info.Delivered.Consumer != 1 {
		t.Errorf("delivered %d times, want 1", info.Delivered.Consumer)
	}
}

func TestReplicasShareDurableConsumer(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	const n = 200
	var seen calls
	var perReplica [2]atomic.Int32
	for i := range 2 {
		b := srv.Connect(t)
		l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny}, func(_ context.Context, ev events.TicketCreated) error {
			seen.add(ev.ID)
			perReplica[i].Add(1)
			return nil
		})
		t.Cleanup(l.Stop)
	}
	pub := srv.Connect(t)
	evs := make([]events.TicketCreated, n)
	for i := range evs {
		evs[i] = events.TicketCreated{ID: fmt.Sprint(i)}
	}
	publish(t, pub, evs...)
	natsbustest.Eventually(t, 15*time.Second, "every message handled", func() bool { return seen.total() >= n })
	natsbustest.Eventually(t, 10*time.Second, "every message acked", settled(t, pub, "svc", n))
	for i := range evs {
		if got := seen.get(evs[i].ID); got != 1 {
			t.Errorf("event %s handled %d times, want 1", evs[i].ID, got)
		}
	}
	if seen.total() != n {
		t.Errorf("handled %d messages, want %d", seen.total(), n)
	}
	a, b := perReplica[0].Load(), perReplica[1].Load()
	if a == 0 || b == 0 {
		t.Errorf("replicas handled %d and %d: the work was not shared", a, b)
	}
}

func TestStopWaitsForInFlightHandlers(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny}, func(ctx context.Context, _ events.TicketCreated) error {
		close(started)
		<-release
		if ctx.Err() != nil {
			return ctx.Err()
		}
		finished.Store(true)
		return nil
	})
	publish(t, b, events.TicketCreated{ID: "1"})
	<-started
	stopped := make(chan struct{})
	go func() { l.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a handler was running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return after the handler finished")
	}
	if !finished.Load() {
		t.Error("handler did not finish (or saw its context cancelled) before Stop returned")
	}
	natsbustest.Eventually(t, 5*time.Second, "the in-flight message acked", settled(t, b, "svc", 1))
}

func TestPublishBatchDeduplicates(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	publish(t, b, events.TicketCreated{ID: "1"}, events.TicketCreated{ID: "1"})
	publish(t, b, events.TicketCreated{ID: "1"}, events.TicketCreated{ID: "2"})
	ctx := context.Background()
	s, err := b.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
	}
	// A subject outside the stream is an error, not a silent drop.
	errs := b.PublishBatch(ctx, []natsbus.Outgoing{{ID: "x", Subject: "nowhere.at.all", Data: []byte("{}")}})
	if errs[0] == nil {
		t.Error("publish to a subject outside the stream succeeded")
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestListenManySubjects(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	created := make(chan string, 1)
	cancelled := make(chan string, 1)
	l, err := b.Listen(context.Background(), "payments", []natsbus.Listener{
		natsbus.On(func(_ context.Context, ev events.OrderCreated) error { created <- ev.ID; return nil }),
		natsbus.On(func(_ context.Context, ev events.OrderCancelled) error { cancelled <- ev.ID; return nil }),
	}, natsbus.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	for _, ev := range []events.Event{events.OrderCreated{ID: "o1"}, events.OrderCancelled{ID: "o2"}} {
		data, _ := json.Marshal(ev)
		if errs := b.PublishBatch(context.Background(), []natsbus.Outgoing{{ID: fmt.Sprint(ev), Subject: string(ev.Subject()), Data: data}}); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	for ch, want := range map[chan string]string{created: "o1", cancelled: "o2"} {
		select {
		case id := <-ch:
			if id != want {
				t.Errorf("got %q, want %q", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no delivery of %s", want)
		}
	}
}

// TestSlowHandlerIsNotRedelivered: a handler that runs for several times
// AckWait keeps its message (the runner reports it in progress), so no
// other replica gets it meanwhile and it is handled once.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var seen calls
	release := make(chan struct{})
	l := listen(t, b, "svc", natsbus.ListenConfig{AckWait: 300 * time.Millisecond, Workers: 2}, func(ctx context.Context, ev events.TicketCreated) error {
		if seen.add(ev.ID) == 1 {
			<-release // held well past AckWait, while the server keeps counting
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "slow"})
	natsbustest.Eventually(t, 5*time.Second, "first delivery", func() bool { return seen.get("slow") == 1 })
	// Four ack waits pass; without the in-progress reports the second
	// worker would get the message again after the first.
	<-time.After(4 * 300 * time.Millisecond)
	close(release)
	natsbustest.Eventually(t, 5*time.Second, "ack", settled(t, b, "svc", 1))
	if n := seen.get("slow"); n != 1 {
		t.Errorf("slow handler's message delivered %d times, want 1", n)
	}
}

func TestObserveOutcomes(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		unstamp  int
	)
	observe := func(consumer, outcome string, stored time.Time, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[consumer+" "+outcome]++
		if stored.IsZero() {
			unstamp++
		}
	}
	var seen calls
	l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny, Observe: observe}, func(_ context.Context, ev events.TicketCreated) error {
		switch {
		case ev.ID == "perm":
			return natsbus.Permanent(errors.New("bad"))
		case ev.ID == "flaky" && seen.add(ev.ID) == 1:
			return errors.New("transient")
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "ok"}, events.TicketCreated{ID: "flaky"}, events.TicketCreated{ID: "perm"})
	want := map[string]int{"svc-ticket-created ack": 2, "svc-ticket-created retry": 1, "svc-ticket-created terminated": 1}
	natsbustest.Eventually(t, 5*time.Second, "every outcome observed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(outcomes) == fmt.Sprint(want)
	})
	natsbustest.Eventually(t, 5*time.Second, "settled", settled(t, b, "svc", 3))
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	if unstamp != 0 {
		t.Errorf("%d observations without the stream's timestamp", unstamp)
	}
}

func TestPendingCountsUndelivered(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	l := listen(t, b, "svc", natsbus.ListenConfig{}, func(context.Context, events.TicketCreated) error { return nil })
	// Stopped, the durable consumer stays on the server and falls behind.
	l.Stop()
	publish(t, b, events.TicketCreated{ID: "1"}, events.TicketCreated{ID: "2"}, events.TicketCreated{ID: "3"})
	// The server counts a consumer's pending messages a moment after it
	// stored them (it failed once under load reading 1 of 3): wait for it.
	want := map[string]uint64{"svc-ticket-created": 3}
	var got map[string]uint64
	natsbustest.Eventually(t, 5*time.Second, "three pending", func() bool {
		var err error
		got, err = l.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}

// TestRefusesServerWithoutSchedules connects to a NATS server too old for
// message schedules (Debian's 2.9, which CI's machine has): it accepts the
// stream flag silently and would never fire an expiry, so Connect must
// refuse it with a message saying what to run instead.
func TestRefusesServerWithoutSchedules(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's, outside a user's PATH
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI's machine has Debian's nats-server; %s: %v", bin, err)
		}
		t.Skip("no nats-server binary to try an old server with")
	}
	version := strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(string(out), "nats-server:")), "v")
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("version %q of %s: %v", out, bin, err)
	}
	if major > 2 || major == 2 && minor >= 12 {
		t.Skipf("%s is %s, new enough for schedules", bin, version)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	srv := exec.Command(bin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	url := "nats://127.0.0.1:" + port
	var b *natsbus.Bus
	natsbustest.Eventually(t, 10*time.Second, "the old server to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b, err = natsbus.Connect(ctx, natsbus.Config{URL: url, Name: t.Name(), Stream: natsbustest.Stream}, natsbustest.Logger(t))
		return err == nil || strings.Contains(err.Error(), "schedules")
	})
	if err == nil {
		b.Close()
		t.Fatalf("Connect accepted nats-server %s, which never fires a schedule", version)
	}
	for _, want := range []string{version, "does not support message schedules", "2.12 or later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestUserMustBeSubjectToken: a user's replies come to _INBOX.<user>, so a
// user that is no subject token is refused before connecting, with a
// message naming it.
func TestUserMustBeSubjectToken(t *testing.T) {
	t.Parallel()
	for _, user := range []string{"tickets.admin", "*", "a>b", "with space"} {
		_, err := natsbus.Connect(context.Background(), natsbus.Config{URL: "nats://127.0.0.1:1", User: user, Stream: natsbustest.Stream}, natsbustest.Logger(t))
		if err == nil || !strings.Contains(err.Error(), "subject token") {
			t.Errorf("user %q: %v, want refused as no subject token", user, err)
		}
	}
}

// TestListenTerminatesForeignSchedules: the server fires a message schedule
// on any subject of its stream, whoever stored it. A listener handles a
// message a schedule fired only when the schedule's subject is one
// ScheduledBy allows for it (expiration.complete from expiration.schedule.*);
// a forged ticket.created, fired from another part's subject or from an
// expiration job, is terminated unhandled. Published events are handled.
func TestListenTerminatesForeignSchedules(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		handled  []string
	)
	observe := func(consumer, outcome string, _ time.Time, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[consumer+" "+outcome]++
	}
	record := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, id)
	}
	l, err := b.Listen(context.Background(), "svc", []natsbus.Listener{
		natsbus.On(func(_ context.Context, ev events.TicketCreated) error { record(ev.ID); return nil }),
		natsbus.On(func(_ context.Context, ev events.ExpirationComplete) error { record(ev.OrderID); return nil }),
	}, natsbus.ListenConfig{Backoff: tiny, Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	schedule := func(subject, target, id string) {
		t.Helper()
		msg := &nats.Msg{Subject: subject, Data: []byte(`{"id":"` + id + `","orderId":"` + id + `"}`), Header: nats.Header{}}
		msg.Header.Set(jetstream.ScheduleHeader, "@at "+time.Now().UTC().Format(time.RFC3339Nano))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := b.JetStream().PublishMsg(ctx, msg, jetstream.WithScheduleTarget(target)); err != nil {
			t.Fatalf("schedule %s on %s: %v", target, subject, err)
		}
	}
	schedule("order.forged", events.SubjectTicketCreated, "from-orders")
	schedule(events.ScheduleSubject("o1"), events.SubjectTicketCreated, "from-a-job")
	schedule(events.ScheduleSubject("o2"), events.SubjectExpirationComplete, "expired")
	publish(t, b, events.TicketCreated{ID: "published"})
	want := map[string]int{"svc-ticket-created terminated": 2, "svc-ticket-created ack": 1, "svc-expiration-complete ack": 1}
	natsbustest.Eventually(t, 10*time.Second, "every message handled or terminated", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(outcomes) == fmt.Sprint(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if slices.Sort(handled); !slices.Equal(handled, []string{"expired", "published"}) {
		t.Errorf("handled %v, want the published event and the job's expiry only", handled)
	}
}

// TestErrUnavailable: a call to a NATS that is out of reach (here a closed
// connection, or a request that found no responder) becomes ErrUnavailable,
// a fault of kind Unavailable; other errors pass through unchanged.
func TestErrUnavailable(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, notFound := b.JetStream().Stream(ctx, "NO_SUCH_STREAM")
	b.Close()
	_, closed := b.JetStream().Publish(ctx, string(events.SubjectTicketCreated), []byte("{}"))
	other := errors.New("apply: broken")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"closed connection", closed, true},
		{"wrapped closed connection", fmt.Errorf("schedule: %w", closed), true},
		{"stream not found", notFound, false},
		{"other error", other, false},
	} {
		got := natsbus.Err(tc.err)
		var fe *fault.Error
		isUnavailable := errors.Is(got, natsbus.ErrUnavailable) && errors.As(got, &fe) && fe.Kind == fault.Unavailable
		if tc.err == nil || isUnavailable != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("%s: Err(%v) = %v, want unavailable %v and the original kept", tc.name, tc.err, got, tc.want)
		}
	}
	if natsbus.Err(nil) != nil {
		t.Error("Err(nil) is not nil")
	}
}

// lockedBuffer is a log sink the runner's goroutines may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestOutageLoggedOncePerChange: however many messages and deliveries an
// outage fails, a consumer logs it once at warn when it starts and once at
// info when it ends.
func TestOutageLoggedOncePerChange(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, natsbus.Config{DataDir: t.TempDir(), Name: t.Name(), Stream: natsbustest.Stream},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var (
		down atomic.Bool
		seen calls
	)
	down.Store(true)
	l := listen(t, b, "svc", natsbus.ListenConfig{MaxDeliver: 2, Backoff: tiny}, func(_ context.Context, ev events.TicketCreated) error {
		seen.add(ev.ID)
		if down.Load() {
			return fmt.Errorf("load: %w", sqldb.ErrUnavailable)
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "1"}, events.TicketCreated{ID: "2"}, events.TicketCreated{ID: "3"})
	natsbustest.Eventually(t, 10*time.Second, "every message failed past MaxDeliver", func() bool {
		return seen.get("1") >= 5 && seen.get("2") >= 5 && seen.get("3") >= 5
	})
	down.Store(false)
	natsbustest.Eventually(t, 10*time.Second, "every message handled", settled(t, b, "svc", 3))
	if n := logs.count(`level=WARN msg="dependency unavailable`); n != 1 {
		t.Errorf("outage logged %d times at warn, want once:\n%s", n, logs.String())
	}
	if n := logs.count(`level=INFO msg="dependency available again"`); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	if n := logs.count("message terminated"); n != 0 {
		t.Errorf("%d messages terminated during the outage", n)
	}
}

// TestEmbeddedStoreLocked: nats-server does not lock its store, and two
// servers on one would each overwrite the other's files; the second
// embedded bus on a data dir is refused until the first one closes.
func TestEmbeddedStoreLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := natsbus.Config{DataDir: dir, Name: t.Name(), Stream: natsbustest.Stream}
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	first, err := natsbus.Connect(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := natsbus.Connect(ctx, cfg, log); !errors.Is(err, natsbus.ErrStoreInUse) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("second bus on the store: %v, want ErrStoreInUse", err)
	}
	first.Close()
	again, err := natsbus.Connect(ctx, cfg, log)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.Close()
}

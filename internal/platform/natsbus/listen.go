package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// Listener handles one subject for a service. Build it with On.
type Listener struct {
	Subject string
	Handle  func(ctx context.Context, data []byte) error
}

// On makes a Listener for events of type E: it decodes the payload and calls
// fn. A payload that does not decode is terminated at once, not retried.
func On[E interface{ Subject() string }](fn func(ctx context.Context, ev E) error) Listener {
	var zero E
	return Listener{
		Subject: zero.Subject(),
		Handle: func(ctx context.Context, data []byte) error {
			var ev E
			if err := json.Unmarshal(data, &ev); err != nil {
				return Permanent(fmt.Errorf("decode %s: %w", zero.Subject(), err))
			}
			return fn(ctx, ev)
		},
	}
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix: the message is
// terminated (logged, kept as a dead letter, never redelivered) instead of
// nak'ed.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent: whether the runner would terminate the message. For tests
// that call a listener directly.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type earlyError struct{ err error }

func (e earlyError) Error() string { return e.err.Error() }
func (e earlyError) Unwrap() error { return e.err }

// EarlyMessage is how the runner recognises an early message.
func (e earlyError) EarlyMessage() bool { return true }

// earlyMarker is any error that says it came early: Early's, and those of
// platform packages that cannot import this one, such as replica.ErrBehind
// (a replica behind the event), so that their callers return them as they
// are.
type earlyMarker interface{ EarlyMessage() bool }

func isEarly(err error) bool {
	var e earlyMarker
	return errors.As(err, &e) && e.EarlyMessage()
}

// Early marks err as a message that arrived before one it depends on (the
// version before it, the record it updates), typically still waiting on
// another consumer. It is nak'ed with the backoff like any transient
// error, but bounded by ListenConfig.MaxEarlyDeliver instead of MaxDeliver:
// after an outage the message it waits for may be minutes behind in
// another consumer's backlog, and terminating the successor then would
// leave a replica behind for good. An error of another package is early
// too when its chain holds a method EarlyMessage() bool returning true.
func Early(err error) error { return earlyError{err} }

// isUnavailable reports whether err says a dependency is down or
// saturated rather than anything about the message: its chain holds a
// *fault.Error of kind fault.Unavailable. That is the one rule, and the
// platform already speaks it: sqldb.ErrUnavailable (the database refused or
// dropped the connection, timed out, has too many connections) and
// payments.ErrProviderUnavailable are such faults, as is any a service
// declares for its own dependency. It answers 503 at the HTTP edge; here
// it is retried with the backoff for as long as the outage lasts.
func isUnavailable(err error) bool {
	var fe *fault.Error
	return errors.As(err, &fe) && fe.Kind == fault.Unavailable
}

// DurableName is the durable consumer a service uses for a subject:
// <service>-<subject with dots as dashes>. Never rename one: a new name
// reads the whole stream again.
func DurableName(service, subject string) string {
	return service + "-" + strings.ReplaceAll(subject, ".", "-")
}

// ListenConfig tunes the consumers of one service. Zero values get defaults.
type ListenConfig struct {
	// MaxDeliver bounds the deliveries of a message that fails on its
	// own; the runner terminates it at the failure that reaches the bound.
	// Default 20. A delivery whose handler failed because a dependency is
	// unavailable (isUnavailable: the database, the payment provider) never
	// counts: such a message is nak'ed with the backoff for as long as the
	// outage lasts and never terminated. The server counts every delivery,
	// so the runner subtracts the outage deliveries it saw itself; those
	// another replica (or this process before a restart) saw still count.
	MaxDeliver int
	// MaxEarlyDeliver bounds the deliveries of a message whose handler
	// says it came early (Early). Default 400: with the default backoff,
	// over an hour of waiting while the service runs. The count is of all
	// deliveries but the outage ones (see MaxDeliver): a message that
	// waited past MaxDeliver and then fails otherwise is terminated at
	// that failure.
	MaxEarlyDeliver int
	// AckWait is how long the server waits for an ack before it redelivers.
	// While a handler runs the runner reports it in progress every AckWait/2,
	// so AckWait does not bound a handler: it bounds how long a message
	// lost with a crashed process, or in flight to a consumer that was just
	// stopped, waits before another replica (or the restarted process) gets
	// it. Default 5s.
	AckWait time.Duration
	// HandlerTimeout bounds one run of a handler (its context's deadline).
	// Default 1 minute.
	HandlerTimeout time.Duration
	// Workers is how many messages of one subject are handled at once.
	// Default 4.
	Workers int
	// Backoff is the nak delay after the n-th failed delivery (n from 1).
	// Default: 100ms doubling up to MaxBackoff.
	Backoff func(n uint64) time.Duration
	// MaxBackoff caps the default Backoff. Default 10s.
	MaxBackoff time.Duration
	// Observe, when set, is told of every delivery handled: the durable
	// consumer, the outcome ("ack", "retry", "unavailable" (nak'ed, a
	// dependency is down; not counted) or "terminated"), when the
	// message was stored in the stream, and how long the handler took.
	Observe func(consumer, outcome string, stored time.Time, took time.Duration)
}

func (c *ListenConfig) defaults() {
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 20
	}
	if c.MaxEarlyDeliver <= 0 {
		c.MaxEarlyDeliver = 400
	}
	if c.AckWait <= 0 {
		c.AckWait = 5 * time.Second
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.Backoff == nil {
		limit := c.MaxBackoff
		c.Backoff = func(n uint64) time.Duration {
			d := 100 * time.Millisecond << min(n-1, 7)
			return min(d, limit)
		}
	}
}

// Listening is a set of running consumers; Stop ends them.
type Listening struct {
	consumes []jetstream.ConsumeContext
	durables []jetstream.Consumer
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

// Listen creates (or updates) the durable consumer of every listener and
// starts handling messages. Replicas of a service calling Listen with the
// same service name share the consumers, so each message goes to one of them.
func (b *Bus) Listen(ctx context.Context, service string, listeners []Listener, cfg ListenConfig) (*Listening, error) {
	cfg.defaults()
	// Handlers outlive ctx's cancellation by design: Stop lets in-flight
	// messages finish, and a handler gets at most HandlerTimeout.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Listening{cancel: cancel}
	for _, li := range listeners {
		name := DurableName(service, li.Subject)
		cons, err := b.js.CreateOrUpdateConsumer(ctx, b.stream, jetstream.ConsumerConfig{
			Durable:       name,
			FilterSubject: li.Subject,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			// Unlimited: the server counts every delivery, outages
			// included, and an outage must never use a message up. The
			// runner enforces the bounds of messages that fail on their
			// own (MaxDeliver, MaxEarlyDeliver). Updating a consumer an
			// older version created with a bound lifts it.
			MaxDeliver:    -1,
			MaxAckPending: 1000,
		})
		if err != nil {
			l.Stop()
			return nil, fmt.Errorf("natsbus: consumer %s: %w", name, err)
		}
		if err := l.start(hctx, b, name, cons, li, cfg); err != nil {
			l.Stop()
			return nil, fmt.Errorf("natsbus: consume %s: %w", name, err)
		}
	}
	return l, nil
}

func (l *Listening) start(ctx context.Context, b *Bus, name string, cons jetstream.Consumer, li Listener, cfg ListenConfig) error {
	work := make(chan jetstream.Msg)
	cc, err := cons.Consume(func(m jetstream.Msg) { work <- m },
		jetstream.PullMaxMessages(2*cfg.Workers),
		// A pull lost with a stream leader (a failover, a node lost) is
		// noticed when two heartbeats are missed: at the default 5 s
		// heartbeat and 30 s pulls a consumer could hold its events for
		// tens of seconds after the new leader was up. 1 s heartbeats and
		// 5 s pulls notice it within about 2 s, for one small request per
		// consumer every 5 s while idle.
		jetstream.PullExpiry(5*time.Second),
		jetstream.PullHeartbeat(time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				b.log.Warn("consume", "consumer", name, "err", err)
			}
		}))
	if err != nil {
		return err
	}
	l.consumes = append(l.consumes, cc)
	l.durables = append(l.durables, cons)
	st := &consumerState{outages: map[uint64]uint64{}}
	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Go(func() {
			for m := range work {
				b.handle(ctx, name, m, li, cfg, st)
			}
		})
	}
	// Close the work channel once consuming has fully stopped: the callback
	// is no longer running, so no send can race the close.
	l.wg.Go(func() {
		<-cc.Closed()
		close(work)
		workers.Wait()
	})
	return nil
}

// consumerState is what the runner remembers of one consumer between
// deliveries: whether its dependency was last seen down (so an outage is
// logged once when it starts and once when it ends, not per message), and
// how many deliveries of each message (by stream sequence) failed here
// because a dependency was unavailable, which its delivery bound does not
// count.
type consumerState struct {
	down atomic.Bool
	mu   sync.Mutex
	// outages is bounded by maxOutageEntries: a message another replica
	// finished leaves its entry here, and forgetting all of them at the
	// bound only makes the bound count those outages again.
	outages map[uint64]uint64
}

const maxOutageEntries = 10000

// outage records an unavailable delivery of the message at seq.
func (st *consumerState) outage(seq uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.outages[seq]; !ok && len(st.outages) >= maxOutageEntries {
		clear(st.outages)
	}
	st.outages[seq]++
}

// failures is how many of the message's n deliveries count against its
// bound: those not seen here to fail for an outage.
func (st *consumerState) failures(seq, n uint64) uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return n - min(st.outages[seq], n)
}

// done forgets the message at seq: it was acked or terminated.
func (st *consumerState) done(seq uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.outages, seq)
}

func (b *Bus) handle(ctx context.Context, consumer string, m jetstream.Msg, li Listener, cfg ListenConfig, st *consumerState) {
	meta, err := m.Metadata()
	if err != nil {
		b.log.Error("message without metadata", "consumer", consumer, "err", err)
		b.terminate(ctx, consumer, m, nil, fmt.Errorf("no metadata: %w", err), cfg.Backoff(1))
		return
	}
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if scheduler := m.Headers().Get(jetstream.SchedulerHeader); scheduler != "" {
		if prefix, ok := b.scheduledBy[m.Subject()]; !ok || !strings.HasPrefix(scheduler, prefix) {
			b.log.Error("message terminated: fired by a schedule not allowed to", "consumer", consumer,
				"subject", m.Subject(), "scheduler", scheduler, "stream_seq", meta.Sequence.Stream)
			outcome := "terminated"
			if !b.terminate(ctx, consumer, m, meta, fmt.Errorf("%w: %s", ErrForeignSchedule, scheduler), cfg.Backoff(meta.NumDelivered)) {
				outcome = "retry"
			}
			if cfg.Observe != nil {
				cfg.Observe(consumer, outcome, meta.Timestamp, 0)
			}
			return
		}
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.HandlerTimeout)
	stopBeat := inProgress(m, cfg.AckWait/2)
	start := time.Now()
	err = li.Handle(hctx, m.Data())
	took := time.Since(start)
	stopBeat()
	cancel()
	n, seq := meta.NumDelivered, meta.Sequence.Stream
	var perm permanentError
	bound := uint64(cfg.MaxDeliver)
	if isEarly(err) {
		bound = uint64(cfg.MaxEarlyDeliver)
	}
	outcome := "retry"
	defer func() {
		if cfg.Observe != nil {
			cfg.Observe(consumer, outcome, meta.Timestamp, took)
		}
		// Guarded: the arguments would cost allocations on every message
		// with debug off.
		if b.log.Enabled(ctx, slog.LevelDebug) {
			b.log.Debug("message handled", "consumer", consumer, "msg_id", id, "stream_seq", seq,
				"deliveries", n, "outcome", outcome, "since_stored", start.Sub(meta.Timestamp), "took", took)
		}
	}()
	unavailable := err != nil && !errors.As(err, &perm) && isUnavailable(err)
	if unavailable {
		if st.down.CompareAndSwap(false, true) {
			b.log.Warn("dependency unavailable: messages are retried until it is back, without using up deliveries",
				"consumer", consumer, "err", err)
		}
	} else if err == nil && st.down.CompareAndSwap(true, false) {
		// Only a success says the dependency is back: a message failing
		// on its own (a bad payload) says nothing about it.
		b.log.Info("dependency available again", "consumer", consumer)
	}
	switch {
	case err == nil:
		outcome = "ack"
		st.done(seq)
		if err := m.Ack(); err != nil {
			b.log.Warn("ack", "consumer", consumer, "msg_id", id, "err", err)
		}
	case unavailable:
		// Never terminated, whatever the count: the outage is not the
		// message's fault, and dropping it would leave its change undone
		// for good (an order never expired).
		outcome = "unavailable"
		st.outage(seq)
		b.log.Debug("message nak: dependency unavailable", "consumer", consumer, "msg_id", id, "deliveries", n, "err", err)
		m.NakWithDelay(cfg.Backoff(n))
	case errors.As(err, &perm) || st.failures(seq, n) >= bound:
		outcome = "terminated"
		st.done(seq)
		b.log.Error("message terminated", "consumer", consumer, "subject", m.Subject(),
			"msg_id", id, "stream_seq", meta.Sequence.Stream, "deliveries", n, "err", err)
		if !b.terminate(ctx, consumer, m, meta, err, cfg.Backoff(n)) {
			outcome = "retry"
		}
	default:
		b.log.Debug("message nak", "consumer", consumer, "msg_id", id, "deliveries", n, "err", err)
		m.NakWithDelay(cfg.Backoff(n))
	}
}

// inProgress tells the server every interval that m is still being handled,
// so a slow handler is not redelivered to another replica meanwhile. A timer
// rather than a goroutine: this runs for every message. A report racing the
// ack after stop is harmless; the server ignores it for an acked message.
func inProgress(m jetstream.Msg, every time.Duration) (stop func()) {
	var (
		mu      sync.Mutex // guards t and stopped
		t       *time.Timer
		stopped bool
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		m.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// Pending returns, for each durable consumer, how many messages of its
// subject the server has not yet delivered to it: how far behind the
// service is. It asks the server, so call it at scrape time, not per
// message.
func (l *Listening) Pending(ctx context.Context) (map[string]uint64, error) {
	out := make(map[string]uint64, len(l.durables))
	for _, c := range l.durables {
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("natsbus: consumer info: %w", err)
		}
		out[info.Name] = info.NumPending
	}
	return out, nil
}

// Stop stops fetching, lets in-flight and buffered messages finish, and
// returns when every handler has returned.
func (l *Listening) Stop() {
	for _, cc := range l.consumes {
		cc.Drain()
	}
	l.wg.Wait()
	l.cancel()
}

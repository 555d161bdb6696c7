package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Following is a running Follow; Stop ends it.
type Following struct {
	cc jetstream.ConsumeContext
}

// Follow hands every message on subject stored in stream (one of
// Config.Streams, or Config.Stream) since the given time, and
// every later one, to handle, in stream order, in this process. Unlike
// Listen's durable consumers, which replicas share so that each message is
// handled once, each call gets an ordered consumer of its own (ephemeral,
// in the server's memory, no acks): for state every process must hold, such
// as revoked sessions. The consumer recreates itself after a reconnect or a
// gap, resuming after the last message handled.
//
// Follow returns once the messages stored before it was called have been
// handled, so a process can refuse to serve until it has caught up, or
// with ctx's error if that takes longer. A handler error is logged; the
// message is not redelivered (there is no one else to hand it to).
func (b *Bus) Follow(ctx context.Context, stream, subject string, since time.Time, handle func(data []byte) error) (*Following, error) {
	cons, err := b.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: follow %s: %w", subject, err)
	}
	var (
		caughtUp = make(chan struct{})
		once     sync.Once
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if err := handle(m.Data()); err != nil {
			b.log.Error("follow: message skipped", "subject", m.Subject(), "err", err)
		}
		// NumPending is what was left after this message when it was sent.
		if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 {
			once.Do(func() { close(caughtUp) })
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			b.log.Warn("follow", "subject", subject, "err", err)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("natsbus: follow %s: %w", subject, err)
	}
	f := &Following{cc: cc}
	// The consumer's info at creation counts the messages it will replay.
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		once.Do(func() { close(caughtUp) })
	}
	select {
	case <-caughtUp:
		return f, nil
	case <-ctx.Done():
		f.Stop()
		return nil, fmt.Errorf("natsbus: follow %s: catching up: %w", subject, ctx.Err())
	}
}

// Stop ends the consumer; the handler is not called once Stop returns.
func (f *Following) Stop() {
	f.cc.Stop()
	<-f.cc.Closed()
}

package natsbus_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// publishOn publishes one message per id on subject.
func publishOn(tb testing.TB, b *natsbus.Bus, subject string, ids ...string) {
	tb.Helper()
	msgs := make([]natsbus.Outgoing, len(ids))
	for i, id := range ids {
		msgs[i] = natsbus.Outgoing{ID: id, Subject: subject, Data: []byte(id)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, err := range b.PublishBatch(ctx, msgs) {
		if err != nil {
			tb.Fatalf("publish %s: %v", ids[i], err)
		}
	}
}

// seenLog collects what a follower was handed, in order.
type seenLog struct {
	mu  sync.Mutex
	ids []string
}

func (s *seenLog) handle(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, string(data))
	return nil
}

func (s *seenLog) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func follow(tb testing.TB, b *natsbus.Bus, subject string, since time.Time, s *seenLog) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := b.Follow(ctx, events.SessionsStream, subject, since, s.handle)
	if err != nil {
		tb.Fatalf("follow: %v", err)
	}
	tb.Cleanup(f.Stop)
}

// TestFollowEveryProcessSeesEverything: unlike a durable consumer, which
// replicas share, every follower gets every message: first the ones stored
// since the given time (all of them before Follow returns), then new ones.
func TestFollowEveryProcessSeesEverything(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	pub := srv.Connect(t)
	const subject = "session.revoked"
	publishOn(t, pub, subject, "old")
	since := time.Now()
	publishOn(t, pub, subject, "a", "b")
	publishOn(t, pub, "ticket.created", "not-followed")

	var followers [2]seenLog
	for i := range followers {
		follow(t, srv.Connect(t), subject, since, &followers[i])
		// Caught up when Follow returns: no waiting needed.
		if got := followers[i].get(); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("follower %d had %v when Follow returned, want [a b] (not the message before since)", i, got)
		}
	}
	publishOn(t, pub, subject, "c")
	for i := range followers {
		natsbustest.Eventually(t, 5*time.Second, fmt.Sprintf("follower %d gets the new message", i), func() bool {
			return slices.Equal(followers[i].get(), []string{"a", "b", "c"})
		})
	}
}

func TestFollowNothingToReplay(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var s seenLog
	follow(t, b, "session.revoked", time.Now().Add(-time.Hour), &s)
	publishOn(t, b, "session.revoked", "x")
	natsbustest.Eventually(t, 5*time.Second, "the message published after Follow", func() bool { return slices.Equal(s.get(), []string{"x"}) })
}

// TestFollowResumesAfterServerRestart: the ordered consumer lives in the
// server's memory; after a restart it is recreated and goes on after the
// last message it handed over, without repeating it.
func TestFollowResumesAfterServerRestart(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	b := srv.Connect(t)
	var s seenLog
	publishOn(t, b, "session.revoked", "before")
	follow(t, b, "session.revoked", time.Now().Add(-time.Hour), &s)
	srv.Restart(t)
	natsbustest.Eventually(t, 10*time.Second, "reconnected", func() bool { return b.Ping(context.Background()) == nil })
	publishOn(t, b, "session.revoked", "after")
	natsbustest.Eventually(t, 15*time.Second, "the message after the restart", func() bool {
		return slices.Equal(s.get(), []string{"before", "after"})
	})
}

// TestConnectMovesSessionsToTheirStream: a data dir of the previous layout,
// whose TICKETING stream captured session.> with the other events, gets
// the new one when the next version connects: TICKETING without session.>
// (its events kept), SESSIONS with it, holding the revocations TICKETING
// held and the new ones, each once.
func TestConnectMovesSessionsToTheirStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	connect := func(stream natsbus.StreamConfig, streams ...natsbus.StreamConfig) *natsbus.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := natsbus.Connect(ctx, natsbus.Config{DataDir: dir, Name: t.Name(), Stream: stream, Streams: streams}, natsbustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	previous := natsbustest.Stream
	previous.Subjects = []string{"ticket.>", "order.>", "expiration.>", "payment.>", "session.>"}
	old := connect(previous)
	publishOn(t, old, "ticket.created", "t1")
	publishOn(t, old, "session.revoked", "s-old")
	old.Close()

	b := connect(natsbustest.Stream, natsbustest.Streams...)
	publishOn(t, b, "session.revoked", "s-new")
	ctx := context.Background()
	for _, want := range append([]natsbus.StreamConfig{natsbustest.Stream}, natsbustest.Streams...) {
		stream, err := b.JetStream().Stream(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := stream.CachedInfo().Config
		if !slices.Equal(cfg.Subjects, want.Subjects) || cfg.MaxAge != want.MaxAge || cfg.AllowMsgSchedules != want.Schedules {
			t.Errorf("stream %s: subjects %v, max age %v, schedules %v; want %v, %v, %v",
				want.Name, cfg.Subjects, cfg.MaxAge, cfg.AllowMsgSchedules, want.Subjects, want.MaxAge, want.Schedules)
		}
	}
	tickets, err := b.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := tickets.Info(ctx, jetstream.WithSubjectFilter("ticket.>")); err != nil || info.State.Subjects["ticket.created"] != 1 {
		t.Errorf("TICKETING lost its events: %v (%v)", info.State.Subjects, err)
	}
	if info, err := tickets.Info(ctx, jetstream.WithSubjectFilter("session.>")); err != nil || len(info.State.Subjects) != 0 {
		t.Errorf("TICKETING still holds %v on session.> (%v)", info.State.Subjects, err)
	}
	var s seenLog
	f, err := b.Follow(ctx, events.SessionsStream, "session.revoked", time.Now().Add(-time.Hour), s.handle)
	if err != nil {
		t.Fatal(err)
	}
	f.Stop()
	if got := s.get(); !slices.Equal(got, []string{"s-old", "s-new"}) {
		t.Errorf("followed %v, want the revocation stored before the move, then the one after", got)
	}
	// The next start has nothing left to move.
	b.Close()
	again := connect(natsbustest.Stream, natsbustest.Streams...)
	defer again.Close()
	var s2 seenLog
	follow(t, again, "session.revoked", time.Now().Add(-time.Hour), &s2)
	if got := s2.get(); !slices.Equal(got, []string{"s-old", "s-new"}) {
		t.Errorf("after another start followed %v, want each revocation once", got)
	}
}

// Package natsbustest starts real NATS servers for tests: an embedded bus in
// a temp dir, or a server on a random loopback port that several buses (the
// replicas of a service) can share. It also holds what every test of
// asynchronous delivery needs once: Eventually, which waits for a condition,
// and NopPublisher, for an outbox whose relay never runs.
package natsbustest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// Stream is the production config of the events stream.
var Stream = natsbus.StreamConfig{Name: events.Stream, Subjects: events.StreamSubjects, Schedules: true}

// Streams are the production configs of the other streams: the revoked
// sessions, kept as long as a token lives and cmd/ticketing's margin.
var Streams = []natsbus.StreamConfig{{Name: events.SessionsStream, Subjects: events.SessionsStreamSubjects, MaxAge: session.MaxTTL + 5*time.Minute}}

// Embedded connects a new embedded bus in a temp dir, closed when the test ends.
func Embedded(tb testing.TB) *natsbus.Bus {
	tb.Helper()
	return connect(tb, natsbus.Config{DataDir: tb.TempDir(), Name: tb.Name(), Stream: Stream, Streams: Streams, ScheduledBy: events.ScheduledBy})
}

// Server is a NATS server with JetStream on a random loopback port.
type Server struct {
	*server.Server
	opts *server.Options
}

// StartServer starts a server that stops when the test ends.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{opts: &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(),
		NoSigs: true, NoLog: true,
	}}
	s.start(tb)
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	ns, err := server.NewServer(s.opts)
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server did not start")
	}
	s.Server = ns
	s.opts.Port = ns.Addr().(*net.TCPAddr).Port
}

// Restart stops the server and starts it again on the same port with the
// same store, as an operator's restart would.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Shutdown()
	s.WaitForShutdown()
	s.start(tb)
}

// Connect connects a new bus to the server, closed when the test ends.
func (s *Server) Connect(tb testing.TB) *natsbus.Bus {
	tb.Helper()
	return connect(tb, natsbus.Config{URL: s.ClientURL(), Name: tb.Name(), Stream: Stream, Streams: Streams, ScheduledBy: events.ScheduledBy})
}

func connect(tb testing.TB, cfg natsbus.Config) *natsbus.Bus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, cfg, Logger(tb))
	if err != nil {
		tb.Fatalf("connect bus: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}

// Logger discards logs unless the test runs with -v. (Not t.Log: background
// goroutines may log after the test has ended.)
func Logger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Eventually waits until cond holds, failing the test when timeout passes
// first: an event takes a moment to travel to the service that applies it.
// The short poll is how often cond is asked, not a synchronization.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// NopPublisher stands in for the bus behind an outbox whose relay never
// runs: events stay in the outbox table, where tests read them.
type NopPublisher struct{}

// PublishBatch reports every message published.
func (NopPublisher) PublishBatch(_ context.Context, msgs []natsbus.Outgoing) []error {
	return make([]error, len(msgs))
}

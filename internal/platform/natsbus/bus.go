// Package natsbus owns the connection to NATS JetStream: an embedded server
// (in-process, no network port) for `ticketing up`, or an external server or
// cluster for `serve`. It creates the streams, publishes batches with
// de-duplication ids, and runs durable consumers that ack only after the
// handler succeeded.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig describes a stream the bus creates or updates at connect.
type StreamConfig struct {
	Name     string
	Subjects []string
	// Replicas is the stream's replication factor in a NATS cluster (1 alone).
	Replicas int
	// MaxAge is how long the server keeps a message; zero keeps it until
	// the stream's limits push it out.
	MaxAge time.Duration
	// Schedules allows message schedules (nats-server 2.12+), which hold
	// the expiry of every pending order: the server republishes them when
	// due. Connect refuses a server that ignores the flag.
	Schedules bool
}

// Config says which NATS to use.
type Config struct {
	// URL of an external NATS server or cluster; empty starts an embedded one.
	URL string
	// DataDir is where the embedded server keeps its JetStream files.
	DataDir string
	// SyncAlways makes the embedded server fsync every stored message
	// (power-loss safe). By default it syncs every two minutes, which a
	// process crash cannot hurt (the OS has the data) but a power loss can.
	SyncAlways bool
	// Name identifies this connection in the server's monitoring.
	Name string
	// User and Password authenticate to an external server whose
	// authorization gives each part its own user (deploy/k8s/nats/auth.conf).
	// With a user, replies come to _INBOX.<user>.> instead of _INBOX.>, so
	// the server can let each user read its own replies only: a part
	// allowed _INBOX.> could read every other part's JetStream traffic.
	User, Password string
	// CAFile is a PEM file of the CA that signed the server's certificate,
	// for a tls:// URL whose server the system's roots do not vouch for.
	CAFile string
	// Stream holds the events Listen's durable consumers read.
	Stream StreamConfig
	// Streams are more streams, created or updated after Stream (so a
	// subject Stream no longer captures is free for one of them), read
	// with Follow.
	Streams []StreamConfig
	// Existing connects to the streams as they are, making sure of none:
	// for a tool (`ticketing deadletters`), whose settings, such as the
	// replicas, need not be the deployment's and must not change it.
	Existing bool
	// ScheduledBy says which messages a message schedule may fire: subject
	// → the prefix of the schedule subjects allowed to fire it. Listen
	// terminates any other message a schedule fired (it carries the
	// Nats-Scheduler header): the server checks no permission on a
	// schedule's target, so a part that may publish into a stream with
	// schedules could otherwise have the server publish any subject of it.
	ScheduledBy map[string]string
}

// Bus is a live connection to JetStream with the stream in place.
type Bus struct {
	nc          *nats.Conn
	js          jetstream.JetStream
	server      *server.Server // nil when external
	storeLock   *os.File       // the embedded server's store, locked while it runs
	stream      string
	scheduledBy map[string]string
	log         *slog.Logger
}

// Connect starts the embedded server when cfg.URL is empty, connects, and
// creates or updates the streams (moving what Stream held of the others).
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	b := &Bus{log: log, stream: cfg.Stream.Name, scheduledBy: cfg.ScheduledBy}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1), // a restarting server must not strand the process
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }),
	}
	if cfg.User != "" {
		// A subject token: no dots, wildcards or spaces.
		if strings.ContainsAny(cfg.User, ".*> \t\r\n") {
			return nil, fmt.Errorf("natsbus: user %q cannot be a subject token (its replies come to _INBOX.<user>)", cfg.User)
		}
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password), nats.CustomInboxPrefix("_INBOX."+cfg.User))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	url := cfg.URL
	if url == "" {
		ns, lock, err := startEmbedded(cfg.DataDir, cfg.SyncAlways)
		if err != nil {
			return nil, err
		}
		b.server, b.storeLock = ns, lock
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("natsbus: connect %q: %w", url, err)
	}
	b.nc = nc
	// Bound every async publish ack: without a timeout a lost ack (a
	// cluster leader change) leaves its future pending forever, and the
	// outbox relay waiting on it with it. Well inside the relay's lease.
	if b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishAckTimeout)); err != nil {
		b.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	if cfg.Existing {
		return b, nil
	}
	// The dead letters of every consumer of Stream (deadletter.go).
	streams := append([]StreamConfig{cfg.Stream}, cfg.Streams...)
	streams = append(streams, deadLetterStream(cfg.Stream.Replicas))
	for _, sc := range streams {
		if err := b.ensureStream(ctx, sc); err != nil {
			b.Close()
			return nil, err
		}
	}
	for _, sc := range cfg.Streams {
		if err := b.moveOver(ctx, cfg.Stream.Name, sc); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// ErrStoreInUse is an embedded server's store another process (or another
// Bus of this one) runs on.
var ErrStoreInUse = errors.New("natsbus: the embedded NATS store is in use by another process")

func startEmbedded(dataDir string, syncAlways bool) (*server.Server, *os.File, error) {
	if dataDir == "" {
		return nil, nil, errors.New("natsbus: embedded server needs a data dir")
	}
	lock, err := lockStore(filepath.Join(dataDir, "nats"))
	if err != nil {
		return nil, nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "ticketing-embedded",
		DontListen: true, // reached in-process: the machine may run NATS on 4222
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: syncAlways,
	})
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		lock.Close()
		return nil, nil, errors.New("natsbus: embedded server did not start")
	}
	return ns, lock, nil
}

// ensureStream creates the stream or updates it to sc. An update also
// moves subjects: a stream that captured a subject sc no longer lists
// (session.> in TICKETING before SESSIONS) stops capturing it.
func (b *Bus) ensureStream(ctx context.Context, sc StreamConfig) error {
	dup := 2 * time.Minute // the window in which Nats-Msg-Id drops re-publishes
	if sc.MaxAge > 0 {
		dup = min(dup, sc.MaxAge) // the server refuses a window beyond MaxAge
	}
	stream, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              sc.Name,
		Subjects:          sc.Subjects,
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Replicas:          max(sc.Replicas, 1),
		MaxAge:            sc.MaxAge,
		Duplicates:        dup,
		AllowMsgSchedules: sc.Schedules,
	})
	if err != nil {
		return fmt.Errorf("natsbus: create stream %s: %w", sc.Name, err)
	}
	// An older server ignores the flag it does not know and would silently
	// never fire a schedule: refuse to run on it.
	if sc.Schedules && !stream.CachedInfo().Config.AllowMsgSchedules {
		return fmt.Errorf("natsbus: NATS server %s does not support message schedules (stream %s): run nats-server 2.12 or later",
			b.nc.ConnectedServerVersion(), sc.Name)
	}
	return nil
}

// moveOver finishes moving subjects from one stream to another: the
// messages stream from still holds on to's subjects, stored when it
// captured them, are published again (they land in to) and purged from
// from. Their new timestamps keep them in a replay by time; one older than
// to's MaxAge is dropped, as to would have dropped it. A crash halfway
// leaves the rest to the next start (message ids drop what is published
// twice within the duplicate window; what gets through twice is handled
// twice). It asks one stream info when there is nothing to move, and needs
// more than the stream's info permission only when there is.
func (b *Bus) moveOver(ctx context.Context, from string, to StreamConfig) error {
	src, err := b.js.Stream(ctx, from)
	if err != nil {
		return fmt.Errorf("natsbus: stream %s: %w", from, err)
	}
	for _, subject := range to.Subjects {
		info, err := src.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return fmt.Errorf("natsbus: stream %s on %s: %w", from, subject, err)
		}
		if len(info.State.Subjects) == 0 {
			continue
		}
		moved := 0
		for seq := uint64(1); ; seq++ {
			m, err := src.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return fmt.Errorf("natsbus: move %s from %s to %s: %w", subject, from, to.Name, err)
			}
			seq = m.Sequence
			if to.MaxAge > 0 && time.Since(m.Time) > to.MaxAge {
				continue
			}
			id := fmt.Sprintf("%s-%d", from, m.Sequence)
			if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject, Data: m.Data}, jetstream.WithMsgID(id)); err != nil {
				return fmt.Errorf("natsbus: move %s from %s to %s: %w", subject, from, to.Name, err)
			}
			moved++
		}
		if err := src.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return fmt.Errorf("natsbus: move %s from %s to %s: purge: %w", subject, from, to.Name, err)
		}
		b.log.Info("messages moved to their stream", "subject", subject, "from", from, "to", to.Name, "messages", moved)
	}
	return nil
}

// JetStream exposes the JetStream context for the few callers that need more
// than Publish and Listen.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Ping reports whether the connection is up (for /readyz).
func (b *Bus) Ping(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("natsbus: not connected")
	}
	if _, ok := ctx.Deadline(); !ok {
		// FlushWithContext refuses a context without a deadline.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}

// Close closes the connection and stops the embedded server, if any.
func (b *Bus) Close() {
	if b.nc != nil {
		b.nc.Close()
	}
	b.shutdownServer()
}

func (b *Bus) shutdownServer() {
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
	if b.storeLock != nil {
		b.storeLock.Close()
	}
}

// publishAckTimeout bounds the wait for one stored-ack of PublishBatch.
const publishAckTimeout = 10 * time.Second

// Outgoing is one message to publish.
type Outgoing struct {
	// ID is the event id, sent as Nats-Msg-Id: the server drops a second
	// publish of the same id inside the stream's duplicate window.
	ID      string
	Subject string
	Data    []byte
}

// PublishBatch publishes msgs asynchronously and waits for every ack. The
// result has one entry per message: nil once the stream has stored it.
func (b *Bus) PublishBatch(ctx context.Context, msgs []Outgoing) []error {
	errs := make([]error, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := b.js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data}, jetstream.WithMsgID(m.ID))
		if err != nil {
			errs[i] = err
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[i] = err
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return errs
}

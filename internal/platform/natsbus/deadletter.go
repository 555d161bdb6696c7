package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dead letters: a message the runner terminates (its delivery limit used
// up, a Permanent error, a payload that does not decode, a schedule not
// allowed to fire it) is first copied into a stream of its own, so that an
// operator can list it and, once the cause is fixed, replay it. The copy
// holds the original payload as it was and, in headers, where it came from
// and why it was given up.
const (
	// DeadLetterStream holds the dead letters. Connect makes sure of it
	// beside the events stream, with its replicas and no age limit: a dead
	// letter stays until it is replayed or deleted.
	DeadLetterStream = "DEADLETTERS"
	// DeadLetterPrefix starts a dead letter's subject:
	// deadletter.<durable consumer>, so a part's NATS user may write the
	// dead letters of its own consumers only.
	DeadLetterPrefix = "deadletter."
)

// The headers of a dead letter.
const (
	hdrSubject    = "Ticketing-Dead-Subject"
	hdrConsumer   = "Ticketing-Dead-Consumer"
	hdrError      = "Ticketing-Dead-Error"
	hdrDeliveries = "Ticketing-Dead-Deliveries"
	hdrStream     = "Ticketing-Dead-Stream"
	hdrStreamSeq  = "Ticketing-Dead-Stream-Seq"
	hdrMsgID      = "Ticketing-Dead-Msg-Id"
	hdrAt         = "Ticketing-Dead-At"
	hdrForged     = "Ticketing-Dead-Forged"
)

// ErrForeignSchedule is why the runner terminates a message fired by a
// schedule Config.ScheduledBy does not allow: a forgery, which
// ReplayDeadLetter refuses.
var ErrForeignSchedule = errors.New("fired by a schedule not allowed to")

// DeadLetter is a terminated message as the dead-letter stream keeps it.
type DeadLetter struct {
	// ID is the dead letter's sequence in DeadLetterStream: what
	// ReplayDeadLetter takes.
	ID uint64
	// Subject and Data are the original message's.
	Subject string
	Data    []byte
	// Consumer is the durable consumer that gave the message up, Error why.
	Consumer string
	Error    string
	// Deliveries is how many times the consumer had been handed it.
	Deliveries uint64
	// Stream and StreamSeq say where the original is (while the stream
	// still keeps it); MsgID is its Nats-Msg-Id, the event id.
	Stream    string
	StreamSeq uint64
	MsgID     string
	// At is when it was terminated.
	At time.Time
	// Forged is a message fired by a schedule not allowed to
	// (ErrForeignSchedule): never to be replayed.
	Forged bool
}

func deadLetterStream(replicas int) StreamConfig {
	return StreamConfig{Name: DeadLetterStream, Subjects: []string{DeadLetterPrefix + ">"}, Replicas: replicas}
}

// terminate records m as a dead letter and then terminates it. When the
// dead letter cannot be stored (NATS is failing) the message is nak'ed
// instead, so it is not lost: its next delivery fails again and is
// terminated then. It reports whether m was terminated. meta is nil for a
// message without metadata.
func (b *Bus) terminate(ctx context.Context, consumer string, m jetstream.Msg, meta *jetstream.MsgMetadata, cause error, backoff time.Duration) bool {
	h := nats.Header{}
	h.Set(hdrSubject, m.Subject())
	h.Set(hdrConsumer, consumer)
	h.Set(hdrAt, time.Now().UTC().Format(time.RFC3339Nano))
	if cause != nil {
		h.Set(hdrError, cause.Error())
	}
	if errors.Is(cause, ErrForeignSchedule) {
		h.Set(hdrForged, "true")
	}
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if id != "" {
		h.Set(hdrMsgID, id)
	}
	// The dead letter's own id makes a second termination of the same
	// delivery (a lost Term, then a redelivery) one dead letter.
	dlID := consumer + "-" + id
	if meta != nil {
		h.Set(hdrDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
		h.Set(hdrStream, meta.Stream)
		h.Set(hdrStreamSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
		dlID = fmt.Sprintf("%s-%s-%d", consumer, meta.Stream, meta.Sequence.Stream)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishAckTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: DeadLetterPrefix + consumer, Data: m.Data(), Header: h}
	if _, err := b.js.PublishMsg(pctx, msg, jetstream.WithMsgID(dlID), jetstream.WithExpectStream(DeadLetterStream)); err != nil {
		b.log.Error("dead letter not stored: message kept for another delivery", "consumer", consumer,
			"subject", m.Subject(), "msg_id", id, "err", err)
		m.NakWithDelay(backoff)
		return false
	}
	m.Term()
	return true
}

// DeadLetters returns the dead letters, oldest first.
func (b *Bus) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	s, err := b.js.Stream(ctx, DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // no process has run on this server yet
	}
	if err != nil {
		return nil, fmt.Errorf("natsbus: stream %s: %w", DeadLetterStream, err)
	}
	var out []DeadLetter
	for seq := uint64(1); ; seq++ {
		// The next one at or after seq: deleted ones leave gaps.
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(DeadLetterPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("natsbus: dead letter after %d: %w", seq, err)
		}
		seq = m.Sequence
		out = append(out, toDeadLetter(m))
	}
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		ID: m.Sequence, Data: m.Data, At: m.Time,
		Subject: h.Get(hdrSubject), Consumer: h.Get(hdrConsumer), Error: h.Get(hdrError),
		Stream: h.Get(hdrStream), MsgID: h.Get(hdrMsgID), Forged: h.Get(hdrForged) == "true",
	}
	d.Deliveries, _ = strconv.ParseUint(h.Get(hdrDeliveries), 10, 64)
	d.StreamSeq, _ = strconv.ParseUint(h.Get(hdrStreamSeq), 10, 64)
	if at, err := time.Parse(time.RFC3339Nano, h.Get(hdrAt)); err == nil {
		d.At = at
	}
	return d
}

// ErrNoDeadLetter is a dead letter id the stream does not hold.
var ErrNoDeadLetter = errors.New("natsbus: no such dead letter")

// ErrForged is a dead letter ReplayDeadLetter refuses: a message a
// schedule fired that was not allowed to, which a part's credentials
// forged. Replayed it would be an ordinary publish every consumer accepts.
var ErrForged = errors.New("natsbus: a forged message (fired by a schedule not allowed to): not replayed")

// ReplayDeadLetter publishes the dead letter id again on its original
// subject, with its original payload, and then deletes it. A forged one
// is refused (ErrForged). Every consumer
// of the subject gets it again, not only the one that gave it up: the
// handlers are idempotent, so those that handled it before change nothing.
// It goes out under a new message id, replay-<id>, as the original's may
// still be inside the duplicate window; replaying it twice within the
// window (a crash between the publish and the delete) publishes it once.
func (b *Bus) ReplayDeadLetter(ctx context.Context, id uint64) (DeadLetter, error) {
	s, err := b.js.Stream(ctx, DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrNoDeadLetter, id)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("natsbus: stream %s: %w", DeadLetterStream, err)
	}
	m, err := s.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrNoDeadLetter, id)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("natsbus: dead letter %d: %w", id, err)
	}
	d := toDeadLetter(m)
	if d.Forged {
		return d, fmt.Errorf("dead letter %d: %w", id, ErrForged)
	}
	if d.Subject == "" {
		return d, fmt.Errorf("natsbus: dead letter %d names no subject", id)
	}
	replayID := "replay-" + strconv.FormatUint(id, 10)
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: d.Subject, Data: d.Data}, jetstream.WithMsgID(replayID)); err != nil {
		return d, fmt.Errorf("natsbus: replay dead letter %d on %s: %w", id, d.Subject, err)
	}
	if err := s.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return d, fmt.Errorf("natsbus: delete replayed dead letter %d: %w", id, err)
	}
	return d, nil
}

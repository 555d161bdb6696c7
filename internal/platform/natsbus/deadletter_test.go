package natsbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// deadLetters lists the dead letters, failing the test on an error.
func deadLetters(tb testing.TB, b *natsbus.Bus) []natsbus.DeadLetter {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := b.DeadLetters(ctx)
	if err != nil {
		tb.Fatalf("dead letters: %v", err)
	}
	return list
}

// TestTerminatedMessageBecomesDeadLetter: whatever the reason the runner
// gives a message up, it is kept in DEADLETTERS with its subject, payload,
// consumer, error and deliveries, and terminated only then.
func TestTerminatedMessageBecomesDeadLetter(t *testing.T) {
	t.Parallel()
	valid, _ := json.Marshal(events.TicketCreated{ID: "t1", Title: "show"})
	tests := []struct {
		name           string
		data           []byte
		err            error
		wantDeliveries uint64
		wantError      string
	}{
		{"permanent error", valid, natsbus.Permanent(errors.New("ticket id is bad")), 1, "ticket id is bad"},
		{"delivery limit", valid, errors.New("database says no"), 3, "database says no"},
		{"undecodable payload", []byte("{not json"), nil, 1, "decode ticket.created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := natsbustest.Embedded(t)
			var terminated atomic.Int32
			observe := func(_, outcome string, _ time.Time, _ time.Duration) {
				if outcome == "terminated" {
					terminated.Add(1)
				}
			}
			l := listen(t, b, "svc", natsbus.ListenConfig{MaxDeliver: 3, Backoff: tiny, Observe: observe}, func(context.Context, events.TicketCreated) error {
				return tc.err
			})
			defer l.Stop()
			ctx := context.Background()
			if err := b.PublishBatch(ctx, []natsbus.Outgoing{{ID: "evt-1", Subject: events.SubjectTicketCreated, Data: tc.data}})[0]; err != nil {
				t.Fatal(err)
			}
			natsbustest.Eventually(t, 5*time.Second, "termination", settled(t, b, "svc", 1))
			list := deadLetters(t, b)
			if len(list) != 1 {
				t.Fatalf("%d dead letters, want 1: %+v", len(list), list)
			}
			d := list[0]
			if d.Subject != events.SubjectTicketCreated || string(d.Data) != string(tc.data) || d.Consumer != "svc-ticket-created" ||
				d.Deliveries != tc.wantDeliveries || !strings.Contains(d.Error, tc.wantError) ||
				d.Stream != events.Stream || d.StreamSeq != 1 || d.MsgID != "evt-1" || time.Since(d.At) > time.Minute {
				t.Errorf("dead letter %+v (data %q), want ticket.created from svc-ticket-created after %d deliveries, error %q",
					d, d.Data, tc.wantDeliveries, tc.wantError)
			}
			if n := terminated.Load(); n != 1 {
				t.Errorf("observed %d terminations, want 1", n)
			}
		})
	}
}

// TestForeignScheduleBecomesDeadLetter: a message fired by a schedule not
// allowed to fire it is kept too, with the schedule named in its error,
// marked forged, and never replayed.
func TestForeignScheduleBecomesDeadLetter(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	l := listen(t, b, "svc", natsbus.ListenConfig{Backoff: tiny}, func(context.Context, events.TicketCreated) error { return nil })
	defer l.Stop()
	msg := &nats.Msg{Subject: "order.forged", Data: []byte(`{"id":"forged"}`), Header: nats.Header{}}
	msg.Header.Set(jetstream.ScheduleHeader, "@at "+time.Now().UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.JetStream().PublishMsg(ctx, msg, jetstream.WithScheduleTarget(events.SubjectTicketCreated)); err != nil {
		t.Fatal(err)
	}
	natsbustest.Eventually(t, 5*time.Second, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	d := deadLetters(t, b)[0]
	if d.Subject != events.SubjectTicketCreated || !strings.Contains(d.Error, "order.forged") || string(d.Data) != `{"id":"forged"}` || !d.Forged {
		t.Errorf("dead letter %+v, want the forged ticket.created naming its schedule", d)
	}
	// Replayed it would be an ordinary publish, which every consumer
	// accepts: refused, and kept.
	if _, err := b.ReplayDeadLetter(ctx, d.ID); !errors.Is(err, natsbus.ErrForged) {
		t.Errorf("replay of a forged message: %v, want ErrForged", err)
	}
	if n := len(deadLetters(t, b)); n != 1 {
		t.Errorf("%d dead letters after the refused replay, want 1", n)
	}
}

// TestReplayDeadLetter: a replayed dead letter is published again on its
// subject, handled, and no longer listed; replaying it again is
// ErrNoDeadLetter.
func TestReplayDeadLetter(t *testing.T) {
	t.Parallel()
	b := natsbustest.Embedded(t)
	var fixed atomic.Bool
	var seen calls
	l := listen(t, b, "svc", natsbus.ListenConfig{MaxDeliver: 2, Backoff: tiny}, func(_ context.Context, ev events.TicketCreated) error {
		seen.add(ev.ID)
		if !fixed.Load() {
			return errors.New("bug")
		}
		return nil
	})
	defer l.Stop()
	publish(t, b, events.TicketCreated{ID: "1"})
	natsbustest.Eventually(t, 5*time.Second, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	fixed.Store(true)
	ctx := context.Background()
	d, err := b.ReplayDeadLetter(ctx, deadLetters(t, b)[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Subject != events.SubjectTicketCreated {
		t.Errorf("replayed %+v", d)
	}
	natsbustest.Eventually(t, 5*time.Second, "the replay handled", func() bool { return seen.get("1") == 3 })
	natsbustest.Eventually(t, 5*time.Second, "the replay settled", settled(t, b, "svc", 2))
	if list := deadLetters(t, b); len(list) != 0 {
		t.Errorf("dead letters after replay: %+v", list)
	}
	if _, err := b.ReplayDeadLetter(ctx, d.ID); !errors.Is(err, natsbus.ErrNoDeadLetter) {
		t.Errorf("replay twice: %v, want ErrNoDeadLetter", err)
	}
}

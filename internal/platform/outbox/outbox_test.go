package outbox_test

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
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// run starts ob's relay; it stops (and is waited for) when the test ends.
func run(tb testing.TB, ob *outbox.Outbox) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
}

func newOutbox(tb testing.TB, db *sqldb.DB, bus *natsbus.Bus, cfg outbox.Config) *outbox.Outbox {
	tb.Helper()
	return outbox.New(db, bus, natsbustest.Logger(tb), cfg)
}

// commit writes evs in one transaction.
func commit(tb testing.TB, db *sqldb.DB, ob *outbox.Outbox, evs ...events.Event) {
	tb.Helper()
	ctx := context.Background()
	err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
		for _, ev := range evs {
			if err := ob.Add(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
}

func ticket(i int) events.TicketCreated {
	return events.TicketCreated{ID: fmt.Sprint("t", i), Title: "show", Price: int64(i)}
}

type stored struct {
	msgID string
	ev    events.TicketCreated
}

// streamMsgs returns every message in the stream, in stream order.
func streamMsgs(tb testing.TB, bus *natsbus.Bus) []stored {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bus.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	var out []stored
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			tb.Fatalf("get %d: %v", seq, err)
		}
		var ev events.TicketCreated
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			tb.Fatalf("decode %d: %v", seq, err)
		}
		out = append(out, stored{msgID: m.Header.Get(jetstream.MsgIDHeader), ev: ev})
	}
	return out
}

func streamCount(tb testing.TB, bus *natsbus.Bus) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := bus.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		return -1 // the server may be restarting
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.State.Msgs)
}

func pending(tb testing.TB, db *sqldb.DB) int {
	tb.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		tb.Fatalf("count outbox: %v", err)
	}
	return n
}

func TestPublishedAfterBusOutage(t *testing.T) {
	t.Parallel()
	srv := natsbustest.StartServer(t)
	bus := srv.Connect(t)
	db := sqldbtest.Open(t, sqldb.SQLite, outbox.Migrations)
	ob := newOutbox(t, db, bus, outbox.Config{Scan: 50 * time.Millisecond})
	run(t, ob)

	commit(t, db, ob, ticket(1))
	natsbustest.Eventually(t, 5*time.Second, "first event", func() bool { return streamCount(t, bus) == 1 && pending(t, db) == 0 })

	srv.Shutdown()
	srv.WaitForShutdown()
	natsbustest.Eventually(t, 5*time.Second, "the bus to notice the outage", func() bool { return bus.Ping(context.Background()) != nil })
	commit(t, db, ob, ticket(2))
	if n, err := ob.Pending(context.Background()); err != nil || n != 1 {
		t.Errorf("during the outage: Pending = %d, %v; want 1", n, err)
	}

	srv.Restart(t)
	natsbustest.Eventually(t, 20*time.Second, "the event committed during the outage", func() bool { return streamCount(t, bus) == 2 })
	natsbustest.Eventually(t, 5*time.Second, "the row deleted", func() bool { return pending(t, db) == 0 })
	msgs := streamMsgs(t, bus)
	if len(msgs) != 2 || msgs[0].ev.ID != "t1" || msgs[1].ev.ID != "t2" {
		t.Errorf("stream holds %+v", msgs)
	}
}

func TestRolledBackEventNeverPublished(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		bus := natsbustest.Embedded(t)
		ob := newOutbox(t, db, bus, outbox.Config{Scan: 10 * time.Millisecond})
		run(t, ob)
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
			if err := ob.Add(ctx, tx, ticket(1)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx = %v", err)
		}
		// A committed event after it: once it is out, the relay has had
		// its chance to publish the rolled-back one.
		commit(t, db, ob, ticket(2))
		natsbustest.Eventually(t, 5*time.Second, "the committed event", func() bool { return pending(t, db) == 0 && streamCount(t, bus) >= 1 })
		msgs := streamMsgs(t, bus)
		if len(msgs) != 1 || msgs[0].ev.ID != "t2" {
			t.Errorf("stream holds %+v, want only t2", msgs)
		}
	}, outbox.Migrations)
}

func TestPublishedInOrderAdded(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		bus := natsbustest.Embedded(t)
		ob := newOutbox(t, db, bus, outbox.Config{Batch: 7})
		const n = 40
		var want []string
		// A backlog before the relay runs: some in one transaction, some in
		// their own, all inside the same millisecond or not.
		for i := 0; i < n/2; i += 4 {
			commit(t, db, ob, ticket(i), ticket(i+1), ticket(i+2), ticket(i+3))
		}
		for i := n / 2; i < n; i++ {
			commit(t, db, ob, ticket(i))
		}
		for i := range n {
			want = append(want, ticket(i).ID)
		}
		run(t, ob)
		// And more while it runs.
		for i := n; i < n+20; i++ {
			commit(t, db, ob, ticket(i))
			want = append(want, ticket(i).ID)
		}
		natsbustest.Eventually(t, 10*time.Second, "every event", func() bool { return pending(t, db) == 0 && streamCount(t, bus) == len(want) })
		msgs := streamMsgs(t, bus)
		for i, m := range msgs {
			if i >= len(want) || m.ev.ID != want[i] {
				t.Fatalf("stream position %d holds %s, want order %v", i, m.ev.ID, want)
			}
		}
	}, outbox.Migrations)
}

func TestBacklogLargerThanBatch(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		bus := natsbustest.Embedded(t)
		ob := newOutbox(t, db, bus, outbox.Config{Batch: 10, Scan: time.Hour})
		const n = 95
		for i := range n {
			commit(t, db, ob, ticket(i))
		}
		run(t, ob)
		natsbustest.Eventually(t, 10*time.Second, "the backlog", func() bool { return ob.Published() >= n })
		natsbustest.Eventually(t, 5*time.Second, "rows deleted", func() bool { return pending(t, db) == 0 })
		if got := ob.Published(); got != n {
			t.Errorf("Published() = %d, want %d", got, n)
		}
		msgs := streamMsgs(t, bus)
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[m.ev.ID] {
				t.Errorf("%s stored twice", m.ev.ID)
			}
			seen[m.ev.ID] = true
			if m.msgID == "" {
				t.Errorf("%s stored without Nats-Msg-Id", m.ev.ID)
			}
		}
		if len(seen) != n {
			t.Errorf("stream holds %d distinct events, want %d", len(seen), n)
		}
	}, outbox.Migrations)
}

func TestTwoRelaysClaimDisjointRows(t *testing.T) {
	t.Parallel()
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			cfg := sqldbtest.Config(t, e, outbox.Migrations)
			db1 := sqldbtest.OpenConfig(t, cfg)
			db2 := sqldbtest.OpenConfig(t, cfg)
			bus := natsbustest.Embedded(t)
			ob1 := newOutbox(t, db1, bus, outbox.Config{Batch: 20, Scan: 20 * time.Millisecond})
			ob2 := newOutbox(t, db2, bus, outbox.Config{Batch: 20, Scan: 20 * time.Millisecond})
			const n = 500
			for i := 0; i < n; i += 10 {
				evs := make([]events.Event, 10)
				for j := range evs {
					evs[j] = ticket(i + j)
				}
				commit(t, db1, ob1, evs...)
			}
			run(t, ob1)
			run(t, ob2)
			// Published counts after the delete commits: wait for both.
			natsbustest.Eventually(t, 30*time.Second, "the backlog", func() bool {
				return pending(t, db1) == 0 && ob1.Published()+ob2.Published() >= n
			})
			got1, got2 := ob1.Published(), ob2.Published()
			if got1+got2 != n {
				t.Errorf("relays published %d + %d = %d, want %d (each row once)", got1, got2, got1+got2, n)
			}
			if got := streamCount(t, bus); got != n {
				t.Errorf("stream holds %d, want %d", got, n)
			}
			t.Logf("split %d/%d", got1, got2)
		})
	}
}

func TestCommitWakesRelay(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		bus := natsbustest.Embedded(t)
		ob := newOutbox(t, db, bus, outbox.Config{Scan: time.Hour})
		run(t, ob)
		for i := range 3 {
			commit(t, db, ob, ticket(i))
			natsbustest.Eventually(t, 5*time.Second, "the woken relay", func() bool { return streamCount(t, bus) == i+1 })
		}
		natsbustest.Eventually(t, 5*time.Second, "rows deleted", func() bool { return pending(t, db) == 0 })
	}, outbox.Migrations)
}

func TestShutdownFlushes(t *testing.T) {
	t.Parallel()
	db := sqldbtest.Open(t, sqldb.SQLite, outbox.Migrations)
	bus := natsbustest.Embedded(t)
	ob := newOutbox(t, db, bus, outbox.Config{Scan: time.Hour})
	// Events committed before Run and then a cancelled Run: the last pass
	// publishes them.
	commit(t, db, ob, ticket(1), ticket(2))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ob.Run(ctx)
	if n := pending(t, db); n != 0 {
		t.Errorf("%d rows left after Run returned", n)
	}
	if n := streamCount(t, bus); n != 2 {
		t.Errorf("stream holds %d, want 2", n)
	}
}

// failing publishes through the real bus but fails the first calls, as a
// bus that is briefly unavailable does.
type failing struct {
	*natsbus.Bus
	mu    sync.Mutex
	fails int
}

func (f *failing) PublishBatch(ctx context.Context, msgs []natsbus.Outgoing) []error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		errs := make([]error, len(msgs))
		for i := range errs {
			errs[i] = errors.New("unavailable")
		}
		return errs
	}
	return f.Bus.PublishBatch(ctx, msgs)
}

func TestFailedPublishIsRetried(t *testing.T) {
	t.Parallel()
	db := sqldbtest.Open(t, sqldb.SQLite, outbox.Migrations)
	bus := natsbustest.Embedded(t)
	pub := &failing{Bus: bus, fails: 2}
	ob := outbox.New(db, pub, natsbustest.Logger(t), outbox.Config{Scan: 10 * time.Millisecond})
	run(t, ob)
	commit(t, db, ob, ticket(1))
	natsbustest.Eventually(t, 5*time.Second, "a retried publish", func() bool { return streamCount(t, bus) == 1 && pending(t, db) == 0 })
	if got := ob.Published(); got != 1 {
		t.Errorf("Published() = %d, want 1", got)
	}
}

// TestLeaseOfDeadRelayExpires: where replicas share the database, a dead
// relay's rows wait for its lease, since another live relay may hold it.
func TestLeaseOfDeadRelayExpires(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		bus := natsbustest.Embedded(t)
		var mu sync.Mutex
		clock := time.Unix(1_800_000_000, 0)
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		ob := newOutbox(t, db, bus, outbox.Config{Scan: 10 * time.Millisecond, Lease: 30 * time.Second, Now: now})
		commit(t, db, ob, ticket(1))
		// A relay claimed t1 and died before publishing it.
		err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
			_, err := tx.Exec(`UPDATE outbox SET claimed_until = $1`, now().Add(30*time.Second).UnixMilli())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		run(t, ob)
		commit(t, db, ob, ticket(2))
		// The relay deletes a row only after the server's ack, so the stream
		// can hold t2 a moment before its row is gone: wait for both.
		natsbustest.Eventually(t, 5*time.Second, "the unclaimed event published and its row deleted", func() bool {
			return streamCount(t, bus) == 1 && pending(t, db) == 1
		})
		if msgs := streamMsgs(t, bus); msgs[0].ev.ID != "t2" {
			t.Errorf("published %s while its lease was held", msgs[0].ev.ID)
		}
		mu.Lock()
		clock = clock.Add(31 * time.Second)
		mu.Unlock()
		ob.Wake()
		natsbustest.Eventually(t, 5*time.Second, "the event after its lease ran out", func() bool { return streamCount(t, bus) == 2 && pending(t, db) == 0 })
	}, outbox.Migrations)
}

// TestSoleRelayReleasesOrphanedClaims: a process that died between
// claiming rows and publishing them leaves the claims; the next relay to
// start, the database's only one, sends them at once, not after the 30 s
// lease.
func TestSoleRelayReleasesOrphanedClaims(t *testing.T) {
	t.Parallel()
	db := sqldbtest.Open(t, sqldb.SQLite, outbox.Migrations)
	bus := natsbustest.Embedded(t)
	clock := time.Unix(1_800_000_000, 0) // stands still: no lease runs out
	ob := newOutbox(t, db, bus, outbox.Config{Scan: 10 * time.Millisecond, Lease: 30 * time.Second, SoleRelay: true, Now: func() time.Time { return clock }})
	commit(t, db, ob, ticket(1), ticket(2))
	err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		_, err := tx.Exec(`UPDATE outbox SET claimed_until = $1`, clock.Add(30*time.Second).UnixMilli())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ob)
	natsbustest.Eventually(t, 5*time.Second, "the orphaned events published and their rows deleted", func() bool {
		return streamCount(t, bus) == 2 && pending(t, db) == 0
	})
}

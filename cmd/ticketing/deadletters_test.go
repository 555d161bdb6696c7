package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// runDeadLetters runs `ticketing deadletters args...` on the data dir and
// returns what it printed.
func runDeadLetters(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, append([]string{"deadletters"}, args...), testEnv(map[string]string{"TICKETING_DATA_DIR": dir}), &stdout, &stderr)
	if err != nil {
		return stdout.String(), errors.Join(err, errors.New(stderr.String()))
	}
	return stdout.String(), nil
}

// TestDeadLettersListAndReplay: a message orders terminates is kept as a
// dead letter; `ticketing deadletters list` on up's data dir shows it (and
// refuses to run while up holds the store), `replay` publishes it again,
// and once up runs again the replayed message is handled.
//
// The message terminated on purpose is an expiration.complete fired by a
// schedule the consumers do not accept (events.ScheduledBy): a forgery as
// far as orders can tell, but one the operator knows to be good. Replayed,
// it is an ordinary publish, and the order expires.
func TestDeadLettersListAndReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, app := startUp(t, dir, nil)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	_, o := sellAndReserve(t, seller, buyer, "Dead letter show")

	data, _ := json.Marshal(events.ExpirationComplete{OrderID: o.ID})
	msg := &nats.Msg{Subject: "order.by-hand", Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.ScheduleHeader, "@at "+time.Now().UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := app.bus.JetStream().PublishMsg(ctx, msg, jetstream.WithScheduleTarget(events.SubjectExpirationComplete)); err != nil {
		t.Fatal(err)
	}
	natsbustest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		list, err := app.bus.DeadLetters(ctx)
		return err == nil && len(list) == 1
	})
	const counted = `ticketing_deadletters_total{consumer="orders-expiration-complete"} 1`
	natsbustest.Eventually(t, 5*time.Second, counted, func() bool { return strings.Contains(scrapeText(t, base+"/metrics"), counted) })
	if s := orderStatus(buyer, o.ID); s != "created" {
		t.Fatalf("order %s after its expiry was terminated, want created", s)
	}
	if _, err := runDeadLetters(t, dir, "list"); !errors.Is(err, natsbus.ErrStoreInUse) {
		t.Fatalf("list while up runs: %v, want ErrStoreInUse", err)
	}
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	out, err := runDeadLetters(t, dir, "list")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^(\d+)\t\S+\torders-expiration-complete\texpiration.complete\tdeliveries=1$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "order.by-hand") || !strings.Contains(out, o.ID) {
		t.Fatalf("list:\n%s\nwant the expiration.complete orders gave up on, its schedule and its payload", out)
	}
	if out, err := runDeadLetters(t, dir, "replay", m[1]); err != nil || !strings.Contains(out, "replayed "+m[1]) {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if out, err := runDeadLetters(t, dir, "list"); err != nil || strings.TrimSpace(out) != "no dead letters" {
		t.Fatalf("list after replay: %v\n%s", err, out)
	}

	base2, _ := startUp(t, dir, nil)
	buyer.base = base2
	natsbustest.Eventually(t, 10*time.Second, "the replayed expiry cancels the order", func() bool {
		return orderStatus(buyer, o.ID) == "cancelled"
	})
}

// TestDeadLettersBadArguments: what the command refuses, before it touches
// the data dir; on a data dir no process has run on, there is nothing.
func TestDeadLettersBadArguments(t *testing.T) {
	t.Parallel()
	if out, err := runDeadLetters(t, t.TempDir(), "list"); err != nil || strings.TrimSpace(out) != "no dead letters" {
		t.Errorf("list on a new data dir: %v\n%s", err, out)
	}
	if _, err := runDeadLetters(t, t.TempDir(), "replay", "1"); !errors.Is(err, natsbus.ErrNoDeadLetter) {
		t.Errorf("replay on a new data dir: %v, want ErrNoDeadLetter", err)
	}
	if _, err := runDeadLetters(t, t.TempDir(), "-h"); err != nil {
		t.Errorf("deadletters -h: %v", err)
	}
	for _, args := range [][]string{{}, {"purge"}, {"list", "3"}, {"replay"}, {"replay", "x"}, {"replay", "0"}, {"replay", "all", "3"}} {
		dir := t.TempDir()
		if _, err := runDeadLetters(t, dir, args...); err == nil {
			t.Errorf("deadletters %q: no error", args)
		}
	}
}

// TestUpSweepExpiresOrderWithLostSchedule: an order whose expiry schedule
// is gone (purged here, as a restore from an old backup would lose it) is
// still cancelled by the orders sweep, and its ticket is on sale again.
func TestUpSweepExpiresOrderWithLostSchedule(t *testing.T) {
	t.Parallel()
	base, app := startUpConfig(t, t.TempDir(), map[string]string{"EXPIRATION_WINDOW": "2s"}, func(c *Config) {
		c.sweepEvery, c.sweepGrace = 100*time.Millisecond, time.Second
	})
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	tk, o := sellAndReserve(t, seller, buyer, "Lost schedule show")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := app.bus.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	schedule := events.ScheduleSubject(o.ID)
	natsbustest.Eventually(t, 5*time.Second, "expiration schedules the expiry", func() bool {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(schedule))
		return err == nil && info.State.Subjects[schedule] == 1
	})
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(schedule)); err != nil {
		t.Fatal(err)
	}
	natsbustest.Eventually(t, 10*time.Second, "the sweep expires the order", func() bool { return orderStatus(buyer, o.ID) == "cancelled" })
	if late := time.Since(o.ExpiresAt); late < time.Second {
		t.Errorf("order cancelled %s after expiresAt, before the sweep's grace", late)
	}
	natsbustest.Eventually(t, 5*time.Second, "its ticket is on sale again", func() bool { return listed(buyer, tk.ID) })
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
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

// refusingRefunds is the sandbox with refunds refused (Declined, which
// payments does not retry) while refuse is set: a provider that turned a
// refund down until someone sorted it out with them.
type refusingRefunds struct {
	payments.Provider
	refuse *atomic.Bool
}

func (r refusingRefunds) Refund(ctx context.Context, req payments.RefundRequest) error {
	if r.refuse.Load() {
		return fault.New(fault.Declined, "refund refused by the provider")
	}
	return r.Provider.Refund(ctx, req)
}

// TestDeadLettersListAndReplay: a message payments gives up on (a refund
// the provider refused) is kept as a dead letter and counted;
// `ticketing deadletters list` on up's data dir shows it (and refuses to
// run while up holds the store); once the cause is sorted out `replay`
// publishes it again, and when up runs again the refund goes through.
func TestDeadLettersListAndReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	refunds := refusingRefunds{Provider: payments.NewSandbox(), refuse: new(atomic.Bool)}
	refunds.refuse.Store(true)
	withProvider := func(c *Config) { c.provider = refunds }
	base, app := startUpConfig(t, dir, nil, withProvider)
	paymentStatus := paymentStatusIn(t, dir)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	_, o := sellAndReserve(t, seller, buyer, "Dead letter show")
	if got := pay(t, buyer, o.ID, "tok_visa"); got != http.StatusCreated {
		t.Fatalf("pay = %d, want 201", got)
	}

	// The refund orders asks for after a late payment, asked here by hand.
	db, err := sqldb.Open(context.Background(), sqldb.Config{Path: filepath.Join(dir, "payments.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var refund events.OrderRefundRequested
	if err := db.Read().QueryRow(`SELECT order_id, id, stripe_id FROM payments WHERE order_id = $1`, o.ID).
		Scan(&refund.OrderID, &refund.PaymentID, &refund.StripeID); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(refund)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.bus.PublishBatch(ctx, []natsbus.Outgoing{{ID: "refund-by-hand", Subject: refund.Subject(), Data: data}})[0]; err != nil {
		t.Fatal(err)
	}
	natsbustest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		list, err := app.bus.DeadLetters(ctx)
		return err == nil && len(list) == 1
	})
	const counted = `ticketing_deadletters_total{consumer="payments-order-refund_requested"} 1`
	natsbustest.Eventually(t, 5*time.Second, counted, func() bool { return strings.Contains(scrapeText(t, base+"/metrics"), counted) })
	if s := paymentStatus(o.ID); s != "succeeded" {
		t.Fatalf("payment %s after its refund was refused, want succeeded", s)
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
	m := regexp.MustCompile(`(?m)^(\d+)\t\S+\tpayments-order-refund_requested\torder.refund_requested\tdeliveries=1$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "refund refused by the provider") || !strings.Contains(out, refund.PaymentID) || strings.Contains(out, "forged") {
		t.Fatalf("list:\n%s\nwant the order.refund_requested payments gave up on, its error and its payload", out)
	}
	refunds.refuse.Store(false) // sorted out with the provider
	if out, err := runDeadLetters(t, dir, "replay", m[1]); err != nil || !strings.Contains(out, "replayed "+m[1]) {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if out, err := runDeadLetters(t, dir, "list"); err != nil || strings.TrimSpace(out) != "no dead letters" {
		t.Fatalf("list after replay: %v\n%s", err, out)
	}

	startUpConfig(t, dir, nil, withProvider)
	natsbustest.Eventually(t, 10*time.Second, "the replayed refund goes through", func() bool { return paymentStatus(o.ID) == "refunded" })
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

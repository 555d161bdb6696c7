package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// runMainEnv makes the test binary act as the ticketing binary (see
// TestMain), so crash tests can run `up` in a real process and SIGKILL it.
const runMainEnv = "TICKETING_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	flag.Parse()
	if raceDetector {
		raiseParallel(4)
	} else {
		raiseParallel(6)
	}
	code := m.Run()
	stopChromium() // the browser tests' shared Chromium, if they started it
	os.Exit(code)
}

// raiseParallel lets n parallel tests run at once unless -parallel (or
// -fuzz) says otherwise: the end-to-end tests mostly wait for windows to
// pass and events to travel, so even two cores serve six of them (four
// under the race detector, which multiplies the CPU each needs). Tests
// that measure latency or load the machine do not call t.Parallel.
func raiseParallel(n int) {
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		explicit = explicit || f.Name == "test.parallel" || f.Name == "test.fuzz"
	})
	if !explicit && runtime.GOMAXPROCS(0) < n {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// parallelUnlessRace is t.Parallel, except under the race detector: there
// a test that loads the machine runs alone, as the detector multiplies its
// CPU and the tests beside it (their argon2 sign-ups first) would wait past
// their clients' timeouts.
func parallelUnlessRace(t *testing.T) {
	if !raceDetector {
		t.Parallel()
	}
}

// upProcess is `ticketing up` in a process of its own.
type upProcess struct {
	cmd  *exec.Cmd
	base string
}

// startUpProcess runs `up` on a free loopback port with the data dir and
// waits until it is ready.
func startUpProcess(t *testing.T, dir string, env ...string) *upProcess {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "up")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "TICKETING_ADDR="+addr, "TICKETING_DATA_DIR="+dir,
		"AUTH_RATE_PER_MINUTE=0", "MAX_PENDING_ORDERS=1000000", "MAX_PENDING_ORDERS_PER_ADDRESS=1000000", "MAX_LISTINGS=1000000",
		"LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &upProcess{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	c := &http.Client{Timeout: time.Second}
	natsbustest.Eventually(t, 30*time.Second, "up answers /readyz", func() bool {
		resp, err := c.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (p *upProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

// TestCrashLosesNothing kills `up` with SIGKILL in the middle of a flash
// sale and starts it again: every reservation that was answered 201 before
// the kill is still there, and its order.created still reaches the tickets
// service (the ticket ends up carrying the order id), though the process died
// between commit and publish for some of them.
//
// The sale is small enough to run beside other tests (a dozen buyers, a
// burst of a fraction of a second; alone under -race), and large enough
// that the kill meets requests in flight and order events still in the
// outbox. After the restart, a row the dead relay had claimed waits out its
// lease (30 s) before it is published: the test then mostly waits, which
// costs the tests beside it nothing.
func TestCrashLosesNothing(t *testing.T) {
	parallelUnlessRace(t)
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	p := startUpProcess(t, dir)
	seller := signUp(t, p.base, "seller@example.com")
	const nTickets, nBuyers = 120, 12
	ids := make([]string, nTickets)
	for i := range ids {
		var tk ticketJSON
		if got := seller.do("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Seat %d", i), "price": 10}, &tk); got != http.StatusCreated {
			t.Fatalf("create ticket = %d", got)
		}
		ids[i] = tk.ID
	}
	buyers := make([]*client, nBuyers)
	for i := range buyers {
		buyers[i] = signUp(t, p.base, fmt.Sprintf("buyer%d@example.com", i))
		buyers[i].http.Timeout = 5 * time.Second
	}

	// Every buyer reserves tickets in turn; the process is killed once
	// enough reservations have been acknowledged, with requests in flight.
	type won struct {
		buyer   int
		orderID string
		ticket  string
	}
	var (
		mu   sync.Mutex
		wins []won
		acks atomic.Int64
		wg   sync.WaitGroup
	)
	killAt := int64(nTickets / 3)
	for b := range buyers {
		wg.Go(func() {
			for i := b; i < nTickets; i += nBuyers {
				var o orderJSON
				status, err := buyers[b].try("POST", "/api/orders", map[string]string{"ticketId": ids[i]}, &o)
				if err != nil {
					return // the process is gone
				}
				if status == http.StatusCreated {
					mu.Lock()
					wins = append(wins, won{b, o.ID, ids[i]})
					mu.Unlock()
					acks.Add(1)
				}
			}
		})
	}
	natsbustest.Eventually(t, 60*time.Second, "enough reservations acknowledged", func() bool { return acks.Load() >= killAt })
	p.kill(t)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed after %d acknowledged reservations; %d order events were still in the outbox",
		len(wins), pendingOutbox(t, filepath.Join(dir, "orders.db")))

	p2 := startUpProcess(t, dir)
	for _, c := range buyers {
		c.base = p2.base
	}
	// Committed changes: every acknowledged order is there.
	mine := map[string]bool{}
	for _, c := range buyers {
		var list []orderJSON
		if got := c.do("GET", "/api/orders", nil, &list); got != http.StatusOK {
			t.Fatalf("orders after restart = %d", got)
		}
		for _, o := range list {
			mine[o.ID] = true
		}
	}
	for _, w := range wins {
		if !mine[w.orderID] {
			t.Errorf("acknowledged order %s is gone after the crash", w.orderID)
		}
	}
	// Events: each acknowledged order's order.created reaches tickets. A
	// row the dead relay had claimed waits out the claim's lease (30 s,
	// outbox.Config.Lease) and its handler may then wait out a retry's
	// backoff (EVENT_RETRY_MAX, 10 s): one deadline from the restart
	// covers both.
	deadline := time.Now().Add(60 * time.Second)
	for _, w := range wins {
		natsbustest.Eventually(t, time.Until(deadline), "ticket "+w.ticket+" carries its order", func() bool {
			var tk ticketJSON
			buyers[w.buyer].do("GET", "/api/tickets/"+w.ticket, nil, &tk)
			return tk.OrderID == w.orderID
		})
	}
}

// pendingOutbox counts the events a service committed but had not published.
func pendingOutbox(t *testing.T, path string) int {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashStillExpires kills `up` with SIGKILL while an order is pending
// and starts it again only after the order fell due: the expiry fires as
// soon as the system is back, and the ticket is on sale again.
func TestCrashStillExpires(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	p := startUpProcess(t, dir, "EXPIRATION_WINDOW=3s")
	seller := signUp(t, p.base, "seller@example.com")
	buyer := signUp(t, p.base, "buyer@example.com")
	tk, o := sellAndReserve(t, seller, buyer, "Crash expiry")
	p.kill(t)

	<-time.After(time.Until(o.ExpiresAt)) // let it fall due while nothing runs
	p2 := startUpProcess(t, dir, "EXPIRATION_WINDOW=3s")
	ready := time.Now()
	buyer.base = p2.base
	// Not a latency bound (TestUpExpiryP99 holds that): a message in flight
	// at the kill comes back after the 5 s ack wait, and the order.created
	// and the expiry may each have been in flight, on a loaded CI machine
	// under the race detector.
	natsbustest.Eventually(t, 30*time.Second, "the overdue order is cancelled", func() bool { return orderStatus(buyer, o.ID) == "cancelled" })
	t.Logf("cancelled %s after the restart was ready", time.Since(ready).Round(time.Millisecond))
	natsbustest.Eventually(t, 10*time.Second, "the ticket is on sale again", func() bool { return listed(buyer, tk.ID) })
}

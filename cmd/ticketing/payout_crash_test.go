package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// TestCrashPayoutsOnce kills `up` with SIGKILL at random points of a
// payout run, a few times, starting it again on the same data dir each
// time: every order is paid out exactly once. The sandbox provider's
// journal in the data dir (what a provider would have on record) holds
// one transfer per order, under the order's key; the ledger one payout
// per order; every payouts row is paid; and `ticketing check` passes.
//
// The sales are paid before the seller connects a payout account, so the
// first sweep after the connection (PAYOUT_SWEEP=1s) finds all of them
// due at once: one run of N transfers (one batch), each fsync'd by the
// journal and recorded in its own transaction, which lasts long enough
// for the kills to land inside it. A restart replays the payouts the
// killed run left pending at once (the SQLite file's sole process
// releases their leases). Each kill waits for a random number of transfers
// more than the last (the seed is logged).
func TestCrashPayoutsOnce(t *testing.T) {
	parallelUnlessRace(t)
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	const nOrders, nBuyers, nKills = 200, 8, 3
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	env := []string{"PAYOUT_HOLD=1s", "PAYOUT_SWEEP=1s"}
	p := startUpProcess(t, dir, env...)
	seller := signUp(t, p.base, "seller@example.com")
	orderIDs := sellAndPay(t, p.base, seller, nOrders, nBuyers)

	journal := filepath.Join(dir, sandboxJournalFile)
	transfers := func() []payments.TransferRequest {
		trs, err := payments.ReadSandboxJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		return trs
	}
	if n := len(transfers()); n != 0 {
		t.Fatalf("%d transfers before the seller has a payout account", n)
	}
	if got := seller.do("POST", "/api/payments/accounts", map[string]string{}, nil); got != http.StatusCreated {
		t.Fatalf("connect payout account = %d", got)
	}

	midRun := 0
	for kill := range nKills {
		have := len(transfers())
		if have >= nOrders {
			break
		}
		target := have + 1 + rng.IntN(max(1, (nOrders-have)/2))
		natsbustest.Eventually(t, 60*time.Second, fmt.Sprintf("%d transfers in the journal", target), func() bool {
			return len(transfers()) >= target
		})
		p.kill(t)
		at := len(transfers())
		if at < nOrders {
			midRun++
		}
		t.Logf("kill %d: waited for %d transfers, killed at %d of %d", kill+1, target, at, nOrders)
		p = startUpProcess(t, dir, env...)
	}
	if midRun == 0 {
		t.Errorf("no kill landed inside the payout run")
	}

	db, err := sqldb.Open(context.Background(), sqldb.Config{Path: filepath.Join(dir, "payments.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		var n int
		if err := db.Read().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	natsbustest.Eventually(t, 60*time.Second, "every order paid out", func() bool {
		return count(`SELECT count(*) FROM payouts WHERE status = 'paid'`) == nOrders
	})

	byOrder := map[string]int{}
	for _, tr := range transfers() {
		byOrder[tr.TransferGroup]++
		if tr.IdempotencyKey != payments.PayoutID(tr.TransferGroup) {
			t.Errorf("transfer %+v: key %q, want %q", tr, tr.IdempotencyKey, payments.PayoutID(tr.TransferGroup))
		}
	}
	for _, id := range orderIDs {
		if byOrder[id] != 1 {
			t.Errorf("order %s: %d transfers, want 1", id, byOrder[id])
		}
	}
	if len(byOrder) != nOrders {
		t.Errorf("transfers for %d orders, want %d", len(byOrder), nOrders)
	}
	if n := count(`SELECT count(*) FROM payouts`); n != nOrders {
		t.Errorf("%d payouts rows, want %d", n, nOrders)
	}
	if n := count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'`); n != nOrders {
		t.Errorf("%d payouts in the ledger, want %d", n, nOrders)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"check"}, testEnv(map[string]string{"TICKETING_DATA_DIR": dir}), &out, &errOut); err != nil {
		t.Errorf("check: %v\n%s%s", err, out.String(), errOut.String())
	}
	if want := fmt.Sprintf("%d payouts", nOrders); !strings.Contains(out.String(), want) {
		t.Errorf("check lacks %q:\n%s", want, out.String())
	}
}

// sellAndPay lists n free-form tickets as seller and has nBuyers buyers
// reserve and pay for them, a few at once; it returns the orders' ids.
// It runs in other goroutines, so it reports with t.Errorf and fails the
// test once all are done.
func sellAndPay(t *testing.T, base string, seller *client, n, nBuyers int) []string {
	t.Helper()
	buyers := make([]*client, nBuyers)
	for i := range buyers {
		buyers[i] = signUp(t, base, fmt.Sprintf("buyer%d@example.com", i))
	}
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	// until retries send until ok says it is done: the ticket's and the
	// order's events reach orders and payments a moment after the answer
	// (seconds on a loaded machine under -race).
	until := func(send func() (int, error), ok func(int) bool) (int, error) {
		deadline := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			status, err := send()
			if err != nil || ok(status) || time.Now().After(deadline) {
				return status, err
			}
			<-tick.C
		}
	}
	for b, buyer := range buyers {
		wg.Go(func() {
			for i := b; i < n; i += nBuyers {
				var tk ticketJSON
				if got, err := seller.try("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Seat %d", i), "price": 10}, &tk); err != nil || got != http.StatusCreated {
					t.Errorf("create ticket %d = %d, %v", i, got, err)
					return
				}
				var o orderJSON
				got, err := until(func() (int, error) {
					return buyer.try("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &o)
				}, func(s int) bool { return s == http.StatusCreated })
				if err != nil || got != http.StatusCreated {
					t.Errorf("reserve ticket %s = %d, %v", tk.ID, got, err)
					return
				}
				got, err = until(func() (int, error) {
					return buyer.try("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil)
				}, func(s int) bool { return s != http.StatusNotFound })
				if err != nil || got != http.StatusCreated {
					t.Errorf("pay order %s = %d, %v", o.ID, got, err)
					return
				}
				mu.Lock()
				ids = append(ids, o.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

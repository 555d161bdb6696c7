package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestCheckBooks runs `ticketing check` against a running `up`, on SQLite
// (its data dir) and on PostgreSQL (DATABASE_URL) when configured: after a
// sale the books balance and it exits 0; a tampered ledger (an unbalanced
// entry, then a paid order without a charge) fails it, each problem named.
func TestCheckBooks(t *testing.T) {
	t.Parallel()
	engines := map[string]string{"sqlite": ""}
	if pg := freshPostgres(t); pg != "" {
		engines["postgres"] = pg
	}
	for name, dbURL := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			base, _ := startUp(t, dir, map[string]string{"DATABASE_URL": dbURL})
			seller := signUp(t, base, "seller@example.com")
			buyer := signUp(t, base, "buyer@example.com")
			_, o := sellAndReserve(t, seller, buyer, "Checked show")
			if got := pay(t, buyer, o.ID, "tok_visa"); got != http.StatusCreated {
				t.Fatalf("pay = %d", got)
			}
			natsbustest.Eventually(t, 5*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, o.ID) == "complete" })
			env := testEnv(map[string]string{"TICKETING_DATA_DIR": dir, "DATABASE_URL": dbURL})
			runCheck := func() (string, error) { return checkBooks(env) }
			// While the system runs, its payment replica learns the
			// completion a moment after orders: wait for check to see it.
			var out string
			natsbustest.Eventually(t, 5*time.Second, "check sees the paid order", func() bool {
				var err error
				out, err = runCheck()
				return err == nil && strings.Contains(out, "1 paid orders")
			})
			// $15 + 10% + $0.50 = $17.00 in cash, $2.00 of fees, $15 owed.
			for _, want := range []string{"OK: the books balance", "1 charges", "cash 17.00, platform fees 2.00, owed to sellers and organizers 15.00"} {
				if !strings.Contains(out, want) {
					t.Errorf("check of a clean system lacks %q:\n%s", want, out)
				}
			}

			w := writable(t, dir, dbURL)
			if _, err := w.Exec(`INSERT INTO ledger_entries (transaction_id, line, account, amount)
				SELECT id, 99, 'cash', 1 FROM ledger_transactions WHERE order_id = $1`, o.ID); err != nil {
				t.Fatal(err)
			}
			out, err := runCheck()
			if err == nil || !strings.Contains(out, "does not balance: its entries sum to 1 cents") ||
				!strings.Contains(out, "the ledger does not balance") {
				t.Errorf("check of an unbalanced ledger = %v:\n%s", err, out)
			}
			if _, err := w.Exec(`DELETE FROM ledger_entries WHERE line = 99`); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Exec(`INSERT INTO orders (id, user_id, price, status, version, expires_at) VALUES ('o-unpaid', 'u', 100, 'complete', 2, 0)`); err != nil {
				t.Fatal(err)
			}
			out, err = runCheck()
			if err == nil || !strings.Contains(out, "paid order o-unpaid has 0 charge entries, want exactly 1") ||
				strings.Contains(out, "does not balance") {
				t.Errorf("check of a paid order without a charge = %v:\n%s", err, out)
			}
		})
	}
}

// checkBooks runs `ticketing check` in env and returns what it wrote,
// its output and its errors together.
func checkBooks(env func(string) string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"check"}, env, &out, &errOut)
	return out.String() + errOut.String(), err
}

// writable opens payments' database of a running `up` for a test to
// tamper with.
func writable(t *testing.T, dir, dbURL string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(dir, "payments.db")+"?_pragma=busy_timeout(10000)"
	if dbURL != "" {
		driver, dsn = "pgx", dbURL+"&search_path=payments"
		if !strings.Contains(dbURL, "?") {
			dsn = dbURL + "?search_path=payments"
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A data dir without payments' database is refused, naming where it
// looked, rather than given an empty database that would "balance".
func TestCheckNeedsTheDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"check", "-data-dir", dir}, testEnv(nil), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "payments.db")) || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("check of an empty data dir = %v", err)
	}
	if err := run(context.Background(), []string{"check", "extra"}, testEnv(map[string]string{"TICKETING_DATA_DIR": dir}), &out, &errOut); err == nil {
		t.Fatal("check took an argument")
	}
}

package payments_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkCheckBooks times `ticketing check`'s work (open read-only,
// check the books in one read transaction)
// over CHECK_BENCH_ORDERS paid orders (default 100,000), one in twenty
// refunded, their payments and ledger, on every engine. The rows are
// written straight into the tables, in batches, as the service would have
// left them (DESIGN.md 9.4's target: under 10 s on two cores).
func BenchmarkCheckBooks(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CHECK_BENCH_ORDERS")); err == nil && v > 0 {
		n = v
	}
	for _, e := range sqldbtest.Engines(b) {
		b.Run(fmt.Sprintf("%s/%d_orders", e, n), func(b *testing.B) {
			cfg := sqldbtest.Config(b, e, migs...)
			fillBooks(b, sqldbtest.OpenConfig(b, cfg), n)
			b.ResetTimer()
			for b.Loop() {
				// As `ticketing check` does: open read-only, one read
				// transaction, close.
				ro, err := sqldb.OpenReadOnly(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				r := books(b, ro)
				ro.Close()
				if !r.OK() || r.Charges != n {
					b.Fatalf("books: %d charges, problems %v", r.Charges, r.Problems)
				}
			}
		})
	}
}

// fillBooks writes n paid orders with their payments and ledger
// transactions, the twentieth of them refunded.
func fillBooks(b *testing.B, db *sqldb.DB, n int) {
	b.Helper()
	const batch = 500
	ctx := context.Background()
	for start := 0; start < n; start += batch {
		var orders, pays, txns, entries []string
		for i := start; i < min(start+batch, n); i++ {
			price, fee := 1000+i%5000, 150+i%500
			total := price + fee
			status := "succeeded"
			if i%20 == 0 {
				status = "refunded"
			}
			o, p := fmt.Sprintf("'o%07d'", i), fmt.Sprintf("p%07d", i)
			orders = append(orders, fmt.Sprintf("(%s, 'b', %d, 'complete', 2, 0, %d, 's%d', 'seller')", o, price, fee, i%1000))
			pays = append(pays, fmt.Sprintf("('%s', %s, '%s', %d, 'tok_visa', 'k%d', 'ch%d', 1, 1)", p, o, status, total, i, i))
			txns = append(txns, fmt.Sprintf("('charge-%s', 'charge', %s, '%s', 1)", p, o, p))
			entries = append(entries, fmt.Sprintf("('charge-%s', 1, 'cash', %d), ('charge-%s', 2, 'seller_payable:s%d', %d), ('charge-%s', 3, 'platform_fees', %d)",
				p, total, p, i%1000, -price, p, -fee))
			if status == "refunded" {
				txns = append(txns, fmt.Sprintf("('refund-%s', 'refund', %s, '%s', 2)", p, o, p))
				entries = append(entries, fmt.Sprintf("('refund-%s', 1, 'cash', %d), ('refund-%s', 2, 'seller_payable:s%d', %d), ('refund-%s', 3, 'platform_fees', %d)",
					p, -total, p, i%1000, price, p, fee))
			}
		}
		err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
			for _, q := range []string{
				`INSERT INTO orders (id, user_id, price, status, version, expires_at, fee, seller_id, payee) VALUES ` + strings.Join(orders, ", "),
				`INSERT INTO payments (id, order_id, status, amount, token, idempotency_key, stripe_id, created_at, updated_at) VALUES ` + strings.Join(pays, ", "),
				`INSERT INTO ledger_transactions (id, kind, order_id, payment_id, created_at) VALUES ` + strings.Join(txns, ", "),
				`INSERT INTO ledger_entries (transaction_id, line, account, amount) VALUES ` + strings.Join(entries, ", "),
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

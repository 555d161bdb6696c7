package payments_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// Payments charged (and refunded) before the ledger existed are booked by
// its migration, so the books of an upgraded system balance and every
// charged payment has its charge.
func TestLedgerMigrationBooksEarlierPayments(t *testing.T) {
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			before := fstest.MapFS{}
			for _, name := range []string{"00001_init.sql", "00002_pending_claims.sql"} {
				b, err := fs.ReadFile(payments.Migrations.FS, name)
				if err != nil {
					t.Fatal(err)
				}
				before[name] = &fstest.MapFile{Data: b}
			}
			cfg := sqldbtest.Config(t, e, outbox.Migrations, sqldb.Migrations{Name: payments.Migrations.Name, FS: before})
			old := sqldbtest.OpenConfig(t, cfg)
			if err := old.WithTx(context.Background(), func(tx *sqldb.Tx) error {
				_, err := tx.Exec(`INSERT INTO orders (id, user_id, price, status, version, expires_at) VALUES
					('o1', 'b', 1500, 'complete', 2, 0), ('o2', 'b', 700, 'cancelled', 2, 0), ('o3', 'b', 900, 'created', 0, 0);
					INSERT INTO payments (id, order_id, status, amount, token, idempotency_key, stripe_id, created_at, updated_at) VALUES
					('p1', 'o1', 'succeeded', 1500, 'tok_visa', 'k1', 'ch1', 1, 1),
					('p2', 'o2', 'refunded', 700, 'tok_visa', 'k2', 'ch2', 1, 1),
					('p3', 'o3', 'pending', 900, 'tok_visa', 'k3', '', 1, 1)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			old.Close()
			cfg.Migrations = migs
			db := sqldbtest.OpenConfig(t, cfg)
			r := books(t, db)
			if !r.OK() || r.Charges != 2 || r.Refunds != 1 || r.Cash != 1500 || r.Payables != -1500 || r.PlatformFees != 0 {
				t.Fatalf("books after the migration: %+v", r)
			}
		})
	}
}

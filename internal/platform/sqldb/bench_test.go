package sqldb_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// BenchmarkCommit is the price of one small write transaction on SQLite with
// each fsync setting: synchronous=NORMAL (a process crash loses nothing) and
// FULL (a power loss loses nothing either). docs/OPERATIONS.md quotes it.
func BenchmarkCommit(b *testing.B) {
	for _, tt := range []struct {
		name string
		full bool
	}{{"normal", false}, {"full", true}} {
		b.Run(tt.name, func(b *testing.B) {
			db, err := sqldb.Open(context.Background(), sqldb.Config{
				Path: filepath.Join(b.TempDir(), "bench.db"), Migrations: []sqldb.Migrations{items}, SyncFull: tt.full,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, strconv.Itoa(i), strconv.Itoa(i))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

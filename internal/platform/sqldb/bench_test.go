package sqldb_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// BenchmarkCommit is the price of one small write transaction on SQLite with
// each fsync setting: synchronous=NORMAL (a process crash loses nothing) and
// FULL (a power loss loses nothing either), one writer at a time, and 64
// writers at once (-64), whose transactions the group commit runs together.
// docs/OPERATIONS.md and docs/PERFORMANCE.md quote it.
func BenchmarkCommit(b *testing.B) {
	for _, tt := range []struct {
		name    string
		full    bool
		writers int
	}{{"normal", false, 1}, {"full", true, 1}, {"normal-64", false, 64}, {"full-64", true, 64}} {
		b.Run(tt.name, func(b *testing.B) {
			db, err := sqldb.Open(context.Background(), sqldb.Config{
				Path: filepath.Join(b.TempDir(), "bench.db"), Migrations: []sqldb.Migrations{items}, SyncFull: tt.full,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			var next atomic.Int64
			insert := func() error {
				id := strconv.FormatInt(next.Add(1), 10)
				return db.WithTx(ctx, func(tx *sqldb.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, id, id)
					return err
				})
			}
			b.ResetTimer()
			if tt.writers == 1 {
				for range b.N {
					if err := insert(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(max(1, tt.writers/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := insert(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

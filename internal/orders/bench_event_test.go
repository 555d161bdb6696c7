package orders_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkReserveFromEvent measures POST /api/orders {eventId}'s service
// path, Service.ReserveFromEvent, 8 goroutines per core, many users (two
// attempts each, each user from its own address):
//
//	go test -run '^$' -bench BenchmarkReserveFromEvent -benchtime 10000x ./internal/orders/
//
// Sub-benchmarks, each on SQLite and (with TICKETING_TEST_POSTGRES_URL)
// PostgreSQL:
//   - all-win: the event has b.N tickets, so every attempt wins one.
//   - onsale: the event has b.N/2 tickets: the first half of the
//     attempts win, the rest are told sold out (an on-sale's shape).
func BenchmarkReserveFromEvent(b *testing.B) {
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		b.Run("all-win-"+engine.String(), func(b *testing.B) { benchEvent(b, engine, b.N) })
		b.Run("onsale-"+engine.String(), func(b *testing.B) { benchEvent(b, engine, max(b.N/2, 1)) })
	}
}

func benchEvent(b *testing.B, engine sqldb.Engine, capacity int) {
	db := sqldbtest.Open(b, engine, migs...)
	f := newFixture(b, db, orders.Config{})
	err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		for range capacity {
			_, err := tx.Exec(`INSERT INTO tickets (id, title, price, version, status, user_id, event_id)
				VALUES ($1, 'Show', 2500, 0, 'on_sale', 'organizer', 'ev-bench')`, uuid.NewString())
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if engine == sqldb.Postgres {
		// As autovacuum would have by the on-sale. (Nothing runs ANALYZE
		// on SQLite's files.)
		err = db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
			_, err := tx.Exec(`ANALYZE`)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var next, won, soldOut atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			_, err := f.svc.ReserveFromEvent(ctx, benchUser(i), "ev-bench", benchAddr(i))
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, orders.ErrSoldOut):
				soldOut.Add(1)
			default:
				b.Errorf("reserve %d: %v", i, err)
			}
		}
	})
	b.StopTimer()
	if int(won.Load()) != min(capacity, b.N) {
		b.Errorf("won %d of %d tickets in %d attempts", won.Load(), capacity, b.N)
	}
	b.ReportMetric(float64(won.Load()), "won")
}

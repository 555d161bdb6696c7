package orders_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkReserve measures the reservation path, many users (two attempts
// each) over many tickets:
//
//	go test -run '^$' -bench BenchmarkReserve -benchtime 20000x ./internal/orders/
//
// Sub-benchmarks:
//   - service: Service.Reserve on SQLite (the `up` default), each attempt on
//     its own ticket, so every one wins.
//   - http: the same through the real mux, cookie verification and JSON,
//     each user from its own client address.
//   - postgres: service on PostgreSQL; skipped unless
//     TICKETING_TEST_POSTGRES_URL is set.
//   - hot: SQLite, every attempt on one of 50 tickets: a flash sale in which
//     almost every attempt loses (the 400).
//   - hot-postgres: hot on PostgreSQL, skipped like postgres.
func BenchmarkReserve(b *testing.B) {
	b.Run("service", func(b *testing.B) {
		f, tickets := benchFixture(b, sqldb.SQLite, b.N)
		ctx := context.Background()
		var next atomic.Int64
		b.SetParallelism(8) // many requests in flight, as under load
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if _, err := f.svc.Reserve(ctx, benchUser(i), tickets[i], benchAddr(i)); err != nil {
					b.Errorf("reserve %d: %v", i, err)
				}
			}
		})
	})
	b.Run("http", func(b *testing.B) {
		f, tickets := benchFixture(b, sqldb.SQLite, b.N)
		toks := benchTokens(b, b.N)
		var next atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				r := httptest.NewRequest("POST", "/api/orders", strings.NewReader(`{"ticketId":"`+tickets[i]+`"}`))
				r.Header.Set("Content-Type", "application/json")
				r.AddCookie(&http.Cookie{Name: session.CookieName, Value: toks[i/2]})
				r.RemoteAddr = benchAddr(i) + ":1234"
				w := httptest.NewRecorder()
				f.handler.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Errorf("reserve %d: %d %s", i, w.Code, w.Body)
				}
			}
		})
	})
	// The same as service on PostgreSQL, when TICKETING_TEST_POSTGRES_URL
	// is set (skipped otherwise).
	b.Run("postgres", func(b *testing.B) {
		f, tickets := benchFixture(b, sqldb.Postgres, b.N)
		ctx := context.Background()
		var next atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if _, err := f.svc.Reserve(ctx, benchUser(i), tickets[i], benchAddr(i)); err != nil {
					b.Errorf("reserve %d: %v", i, err)
				}
			}
		})
	})
	b.Run("hot", func(b *testing.B) { benchHot(b, sqldb.SQLite) })
	b.Run("hot-postgres", func(b *testing.B) { benchHot(b, sqldb.Postgres) })
}

// benchHot has every attempt on one of 50 tickets.
func benchHot(b *testing.B, engine sqldb.Engine) {
	const hot = 50
	f, tickets := benchFixture(b, engine, hot)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			_, err := f.svc.Reserve(ctx, benchUser(i), tickets[i%hot], benchAddr(i))
			if err != nil && !errors.Is(err, orders.ErrTicketReserved) {
				b.Errorf("reserve %d: %v", i, err)
			}
		}
	})
}

// benchUser spreads attempts over many users, two attempts each, well under
// the default MaxPending.
func benchUser(i int64) string { return fmt.Sprintf("user-%d", i/2) }

// benchAddr gives each user its own client address, so the per-address
// count is read (as on every real reservation) without reaching its bound.
func benchAddr(i int64) string {
	u := i / 2
	return fmt.Sprintf("10.%d.%d.%d", u>>16&0xff, u>>8&0xff, u&0xff)
}

// benchFixture is a service on a fresh database holding n tickets, inserted
// in one transaction so setup stays short.
func benchFixture(b *testing.B, engine sqldb.Engine, n int) (*fixture, []string) {
	b.Helper()
	db := sqldbtest.Open(b, engine, migs...)
	f := newFixture(b, db, orders.Config{})
	tickets := make([]string, n)
	err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		for i := range tickets {
			tickets[i] = fmt.Sprintf("ticket-%d", i)
			if _, err := tx.Exec(`INSERT INTO tickets (id, title, price, version) VALUES ($1, $2, $3, 0)`,
				tickets[i], "Show", 2500); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return f, tickets
}

func benchTokens(b *testing.B, n int) []string {
	b.Helper()
	toks := make([]string, n/2+1)
	for i := range toks {
		toks[i] = token(b, benchUser(int64(2*i)))
	}
	return toks
}

package tickets

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkCheckIn measures door scans of full codes: the signature check,
// the door event's staff, and the transaction that locks the ticket and
// writes its admission, with scans from 8 doors at once (RunParallel,
// GOMAXPROCS×8 goroutines). The pool's tickets are admitted on their first
// scan and already_used after, both a write transaction. "http" adds the
// mux, the session check and JSON.
//
//	go test -run '^$' -bench BenchmarkCheckIn -benchtime 5000x ./internal/tickets/
func BenchmarkCheckIn(b *testing.B) {
	const pool = 5000
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		b.Run(engine.String(), func(b *testing.B) {
			ctx := context.Background()
			db := sqldbtest.Open(b, engine, migs...)
			s := newTestService(b, db)
			ev := doorShow("ev-bench", pool)
			if err := s.applyDoorEvent(ctx, ev, true); err != nil {
				b.Fatal(err)
			}
			if err := s.Issue(ctx, ev); err != nil {
				b.Fatal(err)
			}
			// Hold them all at once: the reserve-and-pay path is not what
			// is measured.
			if err := exec(db, `UPDATE tickets SET status = 'held', holder_id = $1, code_version = 1 WHERE event_id = $2`,
				buyer.ID, ev.ID); err != nil {
				b.Fatal(err)
			}
			codes := make([]string, pool)
			for i := range codes {
				c, err := s.sign(Ticket{ID: seatID(ev.ID, i), EventID: ev.ID, CodeVersion: 1})
				if err != nil {
					b.Fatal(err)
				}
				codes[i] = c.Code
			}
			h := handler(s)
			for _, via := range []string{"service", "http"} {
				b.Run(via, func(b *testing.B) {
					if err := exec(db, `DELETE FROM checkins`); err != nil {
						b.Fatal(err)
					}
					var next atomic.Int64
					b.SetParallelism(8)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							code := codes[int(next.Add(1))%pool]
							if via == "service" {
								got, err := s.CheckInCode(ctx, doorStaff, code, ev.ID)
								if err != nil || (got.Result != ResultAdmitted && got.Result != ResultAlreadyUsed) {
									b.Errorf("scan: %+v, %v", got, err)
								}
								continue
							}
							r := httpapitest.Do(b, h, "POST", "/api/checkins", &doorStaff, `{"code":`+strconv.Quote(code)+`,"eventId":"ev-bench"}`)
							if r.Status != http.StatusOK {
								b.Errorf("scan: %d %s", r.Status, r.Body)
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
				})
			}
		})
	}
}

// exec runs one statement in a transaction of its own.
func exec(db *sqldb.DB, q string, args ...any) error {
	return db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(context.Background(), q, args...)
		return err
	})
}

package tickets

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkIssue measures issuing an event's tickets (event.created), one
// event of 10,000 tickets per iteration, in chunks of 1,000: the time a
// chunk holds the writer (on SQLite, every other write waits that long at
// most) is the chunk metric.
//
//	go test -run '^$' -bench BenchmarkIssue -benchtime 3x ./internal/tickets/
func BenchmarkIssue(b *testing.B) {
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		b.Run(engine.String(), func(b *testing.B) {
			db := sqldbtest.Open(b, engine, migs...)
			// The clock is read once per chunk: it times the chunks.
			var (
				last    time.Time
				longest time.Duration
			)
			s := chunked(b, db, DefaultChunk, func() time.Time {
				now := time.Now()
				if !last.IsZero() {
					longest = max(longest, now.Sub(last))
				}
				last = now
				return now
			})
			b.ResetTimer()
			for i := range b.N {
				last = time.Time{}
				if err := s.Issue(context.Background(), show(fmt.Sprintf("ev-%d", i), 10_000)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/10, "ms/chunk")
			b.ReportMetric(float64(longest.Milliseconds()), "ms-longest-chunk")
		})
	}
}

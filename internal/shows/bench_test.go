package shows

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// BenchmarkCountTicket times what the events part does per ticket event of
// an on-sale: one issued ticket reserved (ticket.updated), its replica row
// and its event's count in one transaction.
func BenchmarkCountTicket(b *testing.B) {
	ctx := context.Background()
	for _, e := range sqldbtest.Engines(b) {
		b.Run(e.String(), func(b *testing.B) {
			s, _ := newTestService(b, sqldbtest.Open(b, e, migs...))
			ev := mustCreate(b, s, draft("Jazz", "Paradiso", 10))
			var ids []string
			for b.Loop() {
				id := uuid.NewString()
				ids = append(ids, id)
				if err := s.onTicketCreated(ctx, events.TicketCreated{ID: id, Status: events.TicketOnSale, EventID: ev.ID}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ids)), "tickets")
		})
	}
}

// BenchmarkListUpcoming times one page of 24 upcoming events, each with
// its tickets left counted, out of 1,000.
func BenchmarkListUpcoming(b *testing.B) {
	ctx := context.Background()
	for _, e := range sqldbtest.Engines(b) {
		b.Run(e.String(), func(b *testing.B) {
			s, _ := newTestService(b, sqldbtest.Open(b, e, migs...))
			for i := range 1000 {
				ev := mustCreate(b, s, draft(fmt.Sprintf("Show %d", i), "Hall", 1+i%300))
				for range 10 {
					if err := s.onTicketCreated(ctx, events.TicketCreated{ID: uuid.NewString(), Status: events.TicketOnSale, EventID: ev.ID}); err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, q := range []string{"", "show hall"} {
				b.Run("q="+q, func(b *testing.B) {
					for b.Loop() {
						list, err := s.List(ctx, Listing{Search: q, Limit: 25})
						if err != nil || len(list) != 25 || list[0].TicketsLeft != 10 {
							b.Fatalf("%d events, %v", len(list), err)
						}
					}
				})
			}
		})
	}
}

package tickets

import (
	"context"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// migs are the migrations of the service's database.
var migs = []sqldb.Migrations{Migrations, outbox.Migrations}

// newTestService returns a service over db whose outbox is never relayed:
// its events stay in the outbox table for the test to read.
func newTestService(tb testing.TB, db *sqldb.DB) *Service {
	tb.Helper()
	ob := outbox.New(db, natsbustest.NopPublisher{}, natsbustest.Logger(tb), outbox.Config{})
	return New(db, ob, natsbustest.Logger(tb), Config{})
}

// pending is one event waiting in the outbox.
type pending struct {
	Subject string
	Created events.TicketCreated
	Updated events.TicketUpdated
	Refused events.TicketReservationRefused
}

// outboxEvents returns the events waiting in db's outbox, oldest first.
func outboxEvents(tb testing.TB, db *sqldb.DB) []pending {
	tb.Helper()
	var out []pending
	for _, m := range outboxtest.Pending(tb, db) {
		p := pending{Subject: m.Subject}
		switch m.Subject {
		case events.SubjectTicketCreated:
			m.Decode(tb, &p.Created)
		case events.SubjectTicketReservationRefused:
			m.Decode(tb, &p.Refused)
		default:
			m.Decode(tb, &p.Updated)
		}
		out = append(out, p)
	}
	return out
}

type eventUpdated = events.TicketUpdated

// updates returns the ticket.updated events among evs.
func updates(evs []pending) []events.TicketUpdated {
	var out []events.TicketUpdated
	for _, e := range evs {
		if e.Subject == string(events.SubjectTicketUpdated) {
			out = append(out, e.Updated)
		}
	}
	return out
}

// refusals returns the ticket.reservation_refused events among evs for
// ticketID.
func refusals(evs []pending, ticketID string) []events.TicketReservationRefused {
	var out []events.TicketReservationRefused
	for _, e := range evs {
		if e.Subject == events.SubjectTicketReservationRefused && e.Refused.TicketID == ticketID {
			out = append(out, e.Refused)
		}
	}
	return out
}

func mustCreate(tb testing.TB, s *Service, userID, title string, cents int64) Ticket {
	tb.Helper()
	t, err := s.Create(context.Background(), userID, Fields{Title: title, Price: money.Cents(cents)})
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	return t
}

// reservation is what an order.created of orderID asks when the order
// reserved tk as it is: its version and its price.
func reservation(orderID string, tk Ticket) Reservation {
	v := tk.Version
	return Reservation{OrderID: orderID, Version: &v, Price: tk.Price}
}

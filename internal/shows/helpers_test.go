package shows

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// migs are the migrations of the part's database.
var migs = []sqldb.Migrations{Migrations, outbox.Migrations}

var (
	organizer = session.User{ID: "organizer-1", Email: "org@example.com", Organizer: true}
	rival     = session.User{ID: "organizer-2", Email: "rival@example.com", Organizer: true}
	buyer     = session.User{ID: "buyer-1", Email: "buyer@example.com"}
)

// newTestService returns a service over db on a fake clock standing at
// clocktest.Start, whose outbox is never relayed: its events stay in the
// outbox table for the test to read.
func newTestService(tb testing.TB, db *sqldb.DB) (*Service, *clocktest.Clock) {
	tb.Helper()
	clk := clocktest.New(clocktest.Start)
	ob := outbox.New(db, natsbustest.NopPublisher{}, natsbustest.Logger(tb), outbox.Config{})
	return New(db, ob, natsbustest.Logger(tb), Config{Now: clk.Now}), clk
}

// draft is a valid draft starting days after clocktest.Start.
func draft(name, venue string, days int) Draft {
	starts := clocktest.Start.Add(time.Duration(days) * 24 * time.Hour)
	face, capacity := int64(2500), 100
	d := Draft{Name: &name, Venue: &venue, StartsAt: &starts, Capacity: &capacity}
	cents := money.Cents(face)
	d.FaceValue = &cents
	return d
}

func mustCreate(tb testing.TB, s *Service, d Draft) Event {
	tb.Helper()
	e, err := s.Create(context.Background(), organizer, d)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	return e
}

// pending is one event waiting in the outbox.
type pending struct {
	Subject string
	State   events.EventState
}

// outboxEvents returns the events waiting in db's outbox, oldest first.
func outboxEvents(tb testing.TB, db *sqldb.DB) []pending {
	tb.Helper()
	var out []pending
	for _, m := range outboxtest.Pending(tb, db) {
		p := pending{Subject: m.Subject}
		m.Decode(tb, &p.State)
		out = append(out, p)
	}
	return out
}

// handler is the service's API as the wiring serves it.
func handler(s *Service) http.Handler { return httpapitest.Handler(s.Routes) }

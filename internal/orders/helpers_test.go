package orders_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/outbox/outboxtest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

var testKey = []byte("orders-test-key-orders-test-key!")

// migs are what a service's database is opened with.
var migs = []sqldb.Migrations{outbox.Migrations, orders.Migrations}

// start is the fake clock's first reading.
var start = clocktest.Start

type fixture struct {
	db      *sqldb.DB
	svc     *orders.Service
	handler http.Handler
}

// newFixture builds a service over db with the wiring's middleware.
func newFixture(tb testing.TB, db *sqldb.DB, cfg orders.Config) *fixture {
	tb.Helper()
	log := natsbustest.Logger(tb)
	if cfg.Now == nil {
		cfg.Now = clocktest.Stepping(start, time.Second).Now
	}
	ob := outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{})
	svc := orders.New(db, ob, log, cfg)
	mux := http.NewServeMux()
	svc.Routes(mux)
	h := httpapi.Edge(mux, log, testKey, time.Now, nil)
	return &fixture{db: db, svc: svc, handler: h}
}

// token is a session cookie value for userID.
func token(tb testing.TB, userID string) string {
	tb.Helper()
	return httpapitest.Token(tb, testKey, session.User{ID: userID, Email: userID + "@example.com"})
}

var request = httpapitest.Request

func (f *fixture) addTicket(tb testing.TB, id, title string, cents int64) {
	tb.Helper()
	err := f.svc.AddTicket(context.Background(), orders.Ticket{ID: id, Title: title, Price: money.Cents(cents)})
	if err != nil {
		tb.Fatalf("add ticket: %v", err)
	}
}

// outboxCount counts the events waiting in the outbox on subject.
func outboxCount(tb testing.TB, db *sqldb.DB, subject string) int {
	tb.Helper()
	return len(outboxPayloads(tb, db, subject))
}

// outboxPayloads returns the outbox payloads on subject, oldest first, as
// the JSON text the tests compare.
func outboxPayloads(tb testing.TB, db *sqldb.DB, subject string) []string {
	tb.Helper()
	var out []string
	for _, m := range outboxtest.Pending(tb, db) {
		if m.Subject == subject {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

type orderBody struct {
	ID        string `json:"id"`
	UserID    string `json:"userId"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expiresAt"`
	Version   int64  `json:"version"`
	// CancelledBy and PaymentID are omitted when empty.
	CancelledBy string `json:"cancelledBy"`
	PaymentID   string `json:"paymentId"`
	// ReserveAgainAt is omitted but on an order the buyer cancelled or let
	// expire.
	ReserveAgainAt string `json:"reserveAgainAt"`
	Ticket         struct {
		ID      string          `json:"id"`
		Title   string          `json:"title"`
		Price   json.RawMessage `json:"price"`
		Version int64           `json:"version"`
	} `json:"ticket"`
	// Fee and Total are dollars, as the price.
	Fee   json.RawMessage `json:"fee"`
	Total json.RawMessage `json:"total"`
}

type errorBody struct {
	Errors []struct {
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

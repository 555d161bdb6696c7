package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

var testKey = []byte("payments-test-key-payments-test!")

// migs are what the service's database is opened with.
var migs = []sqldb.Migrations{outbox.Migrations, payments.Migrations}

type fixture struct {
	db      *sqldb.DB
	svc     *payments.Service
	sandbox *payments.Sandbox
	clock   *clocktest.Clock
	handler http.Handler
}

// newFixture builds a service over db with the wiring's middleware. A nil
// provider is a fresh sandbox (kept in f.sandbox).
func newFixture(tb testing.TB, db *sqldb.DB, provider payments.Provider) *fixture {
	tb.Helper()
	log := natsbustest.Logger(tb)
	f := &fixture{db: db, clock: clocktest.New(clocktest.Start)}
	if provider == nil {
		f.sandbox = payments.NewSandbox().(*payments.Sandbox)
		provider = f.sandbox
	}
	ob := outbox.New(db, natsbustest.NopPublisher{}, log, outbox.Config{})
	f.svc = payments.New(db, ob, log, payments.Config{Provider: provider, Now: f.clock.Now})
	mux := http.NewServeMux()
	f.svc.Routes(mux)
	f.handler = httpapi.Edge(mux, log, testKey, time.Now, nil)
	return f
}

// addOrder puts an order of userID for cents into the replica, expiring
// 15 minutes after the fixture's clock.
func (f *fixture) addOrder(tb testing.TB, id, userID string, cents int64) {
	tb.Helper()
	err := f.svc.AddOrder(context.Background(), payments.Order{
		ID: id, UserID: userID, Price: money.Cents(cents), Status: events.StatusCreated,
		ExpiresAt: f.clock.Now().Add(15 * time.Minute),
	})
	if err != nil {
		tb.Fatalf("add order: %v", err)
	}
}

// pay posts a payment as the holder of tok.
func (f *fixture) pay(orderID, token, tok string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]string{"orderId": orderID, "token": token})
	return request(f.handler, http.MethodPost, "/api/payments", string(body), tok)
}

// token is a session cookie value for userID.
func token(tb testing.TB, userID string) string {
	tb.Helper()
	return httpapitest.Token(tb, testKey, session.User{ID: userID, Email: userID + "@example.com"})
}

var request = httpapitest.Request

// count runs a count(*) query.
func count(tb testing.TB, db *sqldb.DB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.Read().QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

type errorBody struct {
	Errors []struct {
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

type idBody struct {
	ID string `json:"id"`
}

// hookProvider wraps a provider with hooks around Charge, to stage the
// failures a real provider has: an unknown outcome, a slow charge.
type hookProvider struct {
	payments.Provider
	// before runs first; a non-nil error is returned without charging.
	before func(ctx context.Context, req payments.ChargeRequest) error
	// after may replace the outcome of a charge that was made.
	after func(ctx context.Context, req payments.ChargeRequest, c payments.Charge, err error) (payments.Charge, error)
	// beforeRefund runs first in Refund; a non-nil error is returned
	// without refunding.
	beforeRefund func(ctx context.Context, req payments.RefundRequest) error
}

func (h *hookProvider) Refund(ctx context.Context, req payments.RefundRequest) error {
	if h.beforeRefund != nil {
		if err := h.beforeRefund(ctx, req); err != nil {
			return err
		}
	}
	return h.Provider.Refund(ctx, req)
}

func (h *hookProvider) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	if h.before != nil {
		if err := h.before(ctx, req); err != nil {
			return payments.Charge{}, err
		}
	}
	c, err := h.Provider.Charge(ctx, req)
	if h.after != nil {
		return h.after(ctx, req, c, err)
	}
	return c, err
}

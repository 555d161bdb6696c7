package shows

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// migs are the migrations of the part's database.
var migs = []sqldb.Migrations{Migrations, outbox.Migrations}

var testKey = []byte("test-key-test-key-test-key-32byt")

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
	rows, err := db.Read().QueryContext(context.Background(), `SELECT subject, payload FROM outbox ORDER BY id`)
	if err != nil {
		tb.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	var out []pending
	for rows.Next() {
		var subject, payload string
		if err := rows.Scan(&subject, &payload); err != nil {
			tb.Fatal(err)
		}
		p := pending{Subject: subject}
		if err := json.Unmarshal([]byte(payload), &p.State); err != nil {
			tb.Fatalf("decode %s: %v", subject, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// handler is the service's mux wrapped as the wiring wraps it.
func handler(s *Service) http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return httpapi.Edge(mux, slog.New(slog.DiscardHandler), testKey, time.Now, nil)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(tb testing.TB, h http.Handler, method, path string, user *session.User, body string) response {
	tb.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if user != nil {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: httpapitest.Token(tb, testKey, *user)})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return response{status: w.Code, header: w.Result().Header, body: b}
}

func (r response) event(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("decode event %s: %v", r.body, err)
	}
	return m
}

func (r response) events(tb testing.TB) []map[string]any {
	tb.Helper()
	var m []map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("decode events %s: %v", r.body, err)
	}
	return m
}

// errors returns the field and code of each error of an error body.
func (r response) errors(tb testing.TB) (fields, codes []string) {
	tb.Helper()
	var body httpapi.ErrorBody
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 {
		tb.Fatalf("not an error body: %s (%v)", r.body, err)
	}
	for _, e := range body.Errors {
		if e.Message == "" {
			tb.Fatalf("error without a message: %s", r.body)
		}
		fields, codes = append(fields, e.Field), append(codes, e.Code)
	}
	return fields, codes
}

package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// refundOrderJSON is what an order says of its refund.
type refundOrderJSON struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Notice   string  `json:"notice"`
	Refund   string  `json:"refund"`
	Refunded float64 `json:"refunded"`
	Total    float64 `json:"total"`
	Fee      float64 `json:"fee"`
}

// TestUpEventCancelRefunds walks a cancelled event's refund through `up`,
// on SQLite and on PostgreSQL when configured: an organizer creates an
// event, a buyer buys a ticket of it and pays the price and the fee, the
// organizer cancels the event, and the order ends refunded with its total,
// on the API, the order page and My orders; `ticketing check` then finds
// the books balanced with one charge and one refund.
func TestUpEventCancelRefunds(t *testing.T) {
	t.Parallel()
	engines := map[string]string{"sqlite": ""}
	if pg := freshPostgres(t); pg != "" {
		engines["postgres"] = pg
	}
	for name, dbURL := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const key = "refund-test-key-refund-test-key-"
			dir := t.TempDir()
			base, _ := startUp(t, dir, map[string]string{"JWT_KEY": key, "DATABASE_URL": dbURL})
			org := signUp(t, base, "org@example.com")
			asOrganizer(t, org, key)
			buyer := signUp(t, base, "buyer@example.com")

			var ev eventJSON
			if got := org.do("POST", "/api/events", map[string]any{"name": "Cancelled Gala", "venue": "Royal Hall",
				"timeZone": "Europe/Amsterdam", "startsAt": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
				"faceValue": "40", "capacity": 2}, &ev); got != http.StatusCreated {
				t.Fatalf("create event = %d", got)
			}
			var o refundOrderJSON
			natsbustest.Eventually(t, 10*time.Second, "orders knows the event's tickets", func() bool {
				return buyer.do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &o) == http.StatusCreated
			})
			// $40 + 10% + $0.50.
			if o.Fee != 4.5 || o.Total != 44.5 {
				t.Fatalf("order = %+v, want fee 4.50, total 44.50", o)
			}
			natsbustest.Eventually(t, 10*time.Second, "the payment is taken", func() bool {
				return buyer.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil) == http.StatusCreated
			})
			natsbustest.Eventually(t, 10*time.Second, "the order is complete", func() bool { return orderStatus(buyer, o.ID) == "complete" })

			var cancelled eventJSON
			if got := org.do("POST", "/api/events/"+ev.ID+"/cancel", nil, &cancelled); got != http.StatusOK || cancelled.Status != "cancelled" {
				t.Fatalf("cancel = %d %+v", got, cancelled)
			}
			const notice = "Event cancelled — refunded $44.50"
			natsbustest.Eventually(t, 20*time.Second, "the order refunded", func() bool {
				buyer.do("GET", "/api/orders/"+o.ID, nil, &o)
				return o.Refund == "refunded"
			})
			if o.Refunded != 44.5 || o.Notice != notice || o.Status != "complete" {
				t.Errorf("refunded order = %+v, want 44.50 refunded, notice %q", o, notice)
			}
			for _, page := range []string{"/orders/" + o.ID, "/orders"} {
				if body := buyerPage(t, buyer, page); !strings.Contains(body, notice) {
					t.Errorf("%s lacks %q", page, notice)
				}
			}

			env := testEnv(map[string]string{"TICKETING_DATA_DIR": dir, "DATABASE_URL": dbURL})
			var out string
			natsbustest.Eventually(t, 10*time.Second, "check sees the refund", func() bool {
				var err error
				out, err = checkBooks(env)
				return err == nil && strings.Contains(out, "1 refunds")
			})
			for _, want := range []string{"OK: the books balance", "1 charges, 1 refunds", "cash 0.00, platform fees 0.00, owed to sellers and organizers 0.00"} {
				if !strings.Contains(out, want) {
					t.Errorf("check after the refund lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// buyerPage is the web page path as c's user sees it.
func buyerPage(t *testing.T, c *client, path string) string {
	t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", path, resp.StatusCode)
	}
	return string(b)
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

type ticketJSON struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Price   float64 `json:"price"`
	UserID  string  `json:"userId"`
	Version int64   `json:"version"`
	OrderID string  `json:"orderId"`
}

type orderJSON struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	Version     int64      `json:"version"`
	CancelledBy string     `json:"cancelledBy"`
	Ticket      ticketJSON `json:"ticket"`
	// Fee and Total (dollars): the service fee, and price + fee, what
	// the buyer is charged.
	Fee   float64 `json:"fee"`
	Total float64 `json:"total"`
}

// signUp makes a new signed-in client.
func signUp(t *testing.T, base, email string) *client {
	t.Helper()
	c := newClient(t, base)
	if got := c.do("POST", "/api/users/signup", map[string]string{"email": email, "password": "correct horse"}, nil); got != http.StatusCreated {
		t.Fatalf("signup %s = %d", email, got)
	}
	return c
}

func listed(c *client, id string) bool {
	var list []ticketJSON
	c.do("GET", "/api/tickets", nil, &list)
	for _, t := range list {
		if t.ID == id {
			return true
		}
	}
	return false
}

// TestUpSellReserveCancel is the Sell, Reserve and cancel flow through the
// gateway of `up`: the ticket leaves the list while reserved, carries the
// order id, and comes back when the buyer cancels.
func TestUpSellReserveCancel(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	var tk ticketJSON
	if got := seller.do("POST", "/api/tickets", map[string]any{"title": "Concert", "price": "20.50"}, &tk); got != http.StatusCreated {
		t.Fatalf("create ticket = %d", got)
	}
	if tk.Price != 20.5 || tk.Version != 0 {
		t.Fatalf("created ticket = %+v", tk)
	}
	if !listed(buyer, tk.ID) {
		t.Fatal("a new ticket is not listed")
	}

	// orders learns the ticket from ticket.created; until then it is a 404.
	var order orderJSON
	natsbustest.Eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &order) == http.StatusCreated
	})
	if order.Status != "created" || order.Ticket.ID != tk.ID || time.Until(order.ExpiresAt) < 14*time.Minute {
		t.Fatalf("order = %+v", order)
	}
	if got := seller.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil); got != http.StatusBadRequest {
		t.Fatalf("second reservation = %d, want 400", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the reserved ticket leaves the list and carries the order id", func() bool {
		var got ticketJSON
		buyer.do("GET", "/api/tickets/"+tk.ID, nil, &got)
		return got.OrderID == order.ID && !listed(buyer, tk.ID)
	})
	if got := seller.do("PUT", "/api/tickets/"+tk.ID, map[string]any{"title": "Concert", "price": 30}, nil); got != http.StatusBadRequest {
		t.Fatalf("edit of a reserved ticket = %d, want 400", got)
	}

	if got := buyer.do("DELETE", "/api/orders/"+order.ID, nil, nil); got != http.StatusNoContent {
		t.Fatalf("cancel = %d, want 204", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the cancelled order's ticket is back on the list", func() bool {
		var got ticketJSON
		buyer.do("GET", "/api/tickets/"+tk.ID, nil, &got)
		return got.OrderID == "" && listed(buyer, tk.ID)
	})
	var mine []orderJSON
	buyer.do("GET", "/api/orders", nil, &mine)
	if len(mine) != 1 || mine[0].Status != "cancelled" {
		t.Fatalf("buyer's orders = %+v, want one cancelled", mine)
	}
	// The buyer who cancelled waits one window before reserving it again.
	if got := buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil); got != http.StatusTooManyRequests {
		t.Fatalf("the buyer reserving again at once = %d, want 429", got)
	}
	// The ticket can be reserved again once orders has seen it released
	// (by someone else: a seller may not order their own ticket).
	if got := seller.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil); got != http.StatusBadRequest {
		t.Fatalf("the seller's order of their own ticket = %d, want 400", got)
	}
	third := signUp(t, base, "third@example.com")
	natsbustest.Eventually(t, 5*time.Second, "the ticket can be reserved again", func() bool {
		return third.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil) == http.StatusCreated
	})
}

// orderStatus reads the status of one of c's orders.
func orderStatus(c *client, id string) string {
	var o orderJSON
	c.do("GET", "/api/orders/"+id, nil, &o)
	return o.Status
}

// sellAndReserve lists a ticket as seller and reserves it as buyer, once
// orders has learned it.
func sellAndReserve(t *testing.T, seller, buyer *client, title string) (ticketJSON, orderJSON) {
	t.Helper()
	var tk ticketJSON
	if got := seller.do("POST", "/api/tickets", map[string]any{"title": title, "price": 15}, &tk); got != http.StatusCreated {
		t.Fatalf("create ticket = %d", got)
	}
	var o orderJSON
	natsbustest.Eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &o) == http.StatusCreated
	})
	return tk, o
}

// TestUpOrderExpires: with a short window an unpaid order is cancelled on
// time and its ticket is on sale again; a restart of the whole system while
// an order is pending still expires it, even when it fell due during the
// downtime.
//
// Not parallel: it bounds how late the expiry comes.
func TestUpOrderExpires(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EXPIRATION_WINDOW": "2s"}
	base, app := startUp(t, dir, env)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	tk, o := sellAndReserve(t, seller, buyer, "Expiring show")
	natsbustest.Eventually(t, 5*time.Second, "the reserved ticket leaves the list", func() bool { return !listed(buyer, tk.ID) })
	natsbustest.Eventually(t, 5*time.Second, "the order expires", func() bool { return orderStatus(buyer, o.ID) == "cancelled" })
	if late := time.Since(o.ExpiresAt); late > 3*time.Second {
		t.Errorf("order cancelled %s after expiresAt", late)
	}
	natsbustest.Eventually(t, 5*time.Second, "the expired order's ticket is on sale again", func() bool { return listed(buyer, tk.ID) })

	// Reserve again, stop everything, let the window pass, start again.
	_, o2 := sellAndReserve(t, seller, buyer, "Restart show")
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-time.After(time.Until(o2.ExpiresAt)) // the expiry falls due while the system is down
	base2, _ := startUp(t, dir, env)
	buyer.base = base2
	natsbustest.Eventually(t, 15*time.Second, "the order that fell due during the downtime expires", func() bool {
		return orderStatus(buyer, o2.ID) == "cancelled"
	})
}

// pay pays order id with token once payments has learned the order, and
// returns the final status code.
func pay(t *testing.T, c *client, orderID, token string) int {
	t.Helper()
	var status int
	natsbustest.Eventually(t, 5*time.Second, "payments knows the order", func() bool {
		status = c.do("POST", "/api/payments", map[string]string{"orderId": orderID, "token": token}, nil)
		return status != http.StatusNotFound
	})
	return status
}

// TestUpSeedFlow is the whole demo flow of the seed through the gateway of
// `up`, with a short window: sell; reserve; the ticket leaves the list; the
// window passes; the order is cancelled and the ticket is listed again;
// reserve again; a declined card, then a good one; the order is complete,
// the ticket stays off the list after the window, and it shows in the
// buyer's orders.
func TestUpSeedFlow(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), map[string]string{"EXPIRATION_WINDOW": "3s"})
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	tk, first := sellAndReserve(t, seller, buyer, "Seed show")
	natsbustest.Eventually(t, 5*time.Second, "the reserved ticket leaves the list", func() bool { return !listed(buyer, tk.ID) })
	natsbustest.Eventually(t, 6*time.Second, "the unpaid order expires", func() bool { return orderStatus(buyer, first.ID) == "cancelled" })
	natsbustest.Eventually(t, 5*time.Second, "the ticket is listed again", func() bool { return listed(buyer, tk.ID) })
	if got := buyer.do("POST", "/api/payments", map[string]string{"orderId": first.ID, "token": "tok_visa"}, nil); got != http.StatusBadRequest {
		t.Fatalf("paying the expired order = %d, want 400", got)
	}

	// The buyer whose order expired waits one window (3 s) to reserve the
	// same ticket again.
	var second orderJSON
	natsbustest.Eventually(t, 10*time.Second, "the ticket can be reserved again", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &second) == http.StatusCreated
	})
	if got := pay(t, buyer, second.ID, "tok_chargeDeclined"); got != http.StatusPaymentRequired {
		t.Fatalf("declined card = %d, want 402", got)
	}
	if got := seller.do("POST", "/api/payments", map[string]string{"orderId": second.ID, "token": "tok_visa"}, nil); got != http.StatusUnauthorized {
		t.Fatalf("paying someone else's order = %d, want 401", got)
	}
	if got := buyer.do("POST", "/api/payments", map[string]string{"orderId": second.ID, "token": "tok_visa"}, nil); got != http.StatusCreated {
		t.Fatalf("good card = %d, want 201", got)
	}
	if got := buyer.do("POST", "/api/payments", map[string]string{"orderId": second.ID, "token": "tok_visa"}, nil); got != http.StatusBadRequest {
		t.Fatalf("paying twice = %d, want 400", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, second.ID) == "complete" })

	// Past the window the paid order stays complete and the ticket sold.
	<-time.After(time.Until(second.ExpiresAt) + time.Second)
	if got := orderStatus(buyer, second.ID); got != "complete" {
		t.Fatalf("paid order after its window = %s, want complete", got)
	}
	if listed(buyer, tk.ID) {
		t.Fatal("a sold ticket is back on the list")
	}
	var mine []orderJSON
	buyer.do("GET", "/api/orders", nil, &mine)
	if len(mine) != 2 || mine[0].ID != second.ID || mine[0].Status != "complete" || mine[1].Status != "cancelled" {
		t.Fatalf("buyer's orders = %+v, want the complete one first, then the cancelled one", mine)
	}
	if got := buyer.do("DELETE", "/api/orders/"+second.ID, nil, nil); got != http.StatusBadRequest {
		t.Fatalf("cancelling a paid order = %d, want 400", got)
	}
}

// paymentStatusIn reads the payments service's own record of an order's
// payment in the SQLite files of up's data dir: "" (none), pending,
// succeeded or refunded.
func paymentStatusIn(t *testing.T, dir string) func(orderID string) string {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Config{Path: filepath.Join(dir, "payments.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func(orderID string) string {
		var s string
		db.Read().QueryRow(`SELECT status FROM payments WHERE order_id = $1`, orderID).Scan(&s)
		return s
	}
}

// TestUpPaymentRacingExpiry pays at the very end of the window, many times
// over: each race ends either complete (paid in time) or cancelled with the
// ticket back on sale — never charged and cancelled without a refund.
func TestUpPaymentRacingExpiry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, _ := startUp(t, dir, map[string]string{"EXPIRATION_WINDOW": "2s"})
	paymentStatus := paymentStatusIn(t, dir)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	for i := range 3 {
		tk, o := sellAndReserve(t, seller, buyer, fmt.Sprintf("Race %d", i))
		natsbustest.Eventually(t, 5*time.Second, "payments knows the order", func() bool {
			return buyer.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_fake"}, nil) != http.StatusNotFound
		})
		// Aim the payment at the expiry instant.
		<-time.After(time.Until(o.ExpiresAt) - 5*time.Millisecond)
		paid := buyer.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil)
		natsbustest.Eventually(t, 6*time.Second, "the race settles", func() bool {
			s := orderStatus(buyer, o.ID)
			return s == "complete" || (s == "cancelled" && listed(buyer, tk.ID))
		})
		switch s := orderStatus(buyer, o.ID); {
		case s == "complete" && (paid != http.StatusCreated || paymentStatus(o.ID) != "succeeded"):
			t.Fatalf("order complete, but the payment answered %d and is %q", paid, paymentStatus(o.ID))
		case s == "cancelled" && paid == http.StatusCreated:
			// Charged after all: the money must go back.
			natsbustest.Eventually(t, 5*time.Second, "the late payment is refunded", func() bool { return paymentStatus(o.ID) == "refunded" })
		case s == "cancelled" && paymentStatus(o.ID) != "":
			t.Fatalf("cancelled order with a %q payment, though the payment answered %d", paymentStatus(o.ID), paid)
		}
		t.Logf("race %d: payment answered %d, order %s, payment %q", i, paid, orderStatus(buyer, o.ID), paymentStatus(o.ID))
	}
}

// heldProvider is the sandbox with its tok_visa charges held until release
// is closed, so that a test decides who wins the race with the expiry.
type heldProvider struct {
	payments.Provider
	charging chan struct{} // one value per held charge
	release  chan struct{}
}

func (h heldProvider) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	if req.Token == "tok_visa" {
		h.charging <- struct{}{}
		select {
		case <-h.release:
		case <-ctx.Done():
			return payments.Charge{}, ctx.Err()
		}
	}
	return h.Provider.Charge(ctx, req)
}

// TestUpLatePaymentIsRefunded forces the race's other ending: a payment
// accepted before the order expired whose charge completes only after the
// expiry has cancelled the order. The order stays cancelled, the ticket is
// on sale again, and the charge is refunded.
func TestUpLatePaymentIsRefunded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	held := heldProvider{Provider: payments.NewSandbox(), charging: make(chan struct{}, 1), release: make(chan struct{})}
	base, _ := startUpConfig(t, dir, map[string]string{"EXPIRATION_WINDOW": "2s"}, func(c *Config) { c.provider = held })
	paymentStatus := paymentStatusIn(t, dir)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	tk, o := sellAndReserve(t, seller, buyer, "Late payment")
	natsbustest.Eventually(t, 5*time.Second, "payments knows the order", func() bool {
		return buyer.do("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_fake"}, nil) != http.StatusNotFound
	})

	type answer struct {
		status int
		err    error
	}
	paid := make(chan answer, 1)
	go func() {
		status, err := buyer.try("POST", "/api/payments", map[string]string{"orderId": o.ID, "token": "tok_visa"}, nil)
		paid <- answer{status, err}
	}()
	select {
	case <-held.charging:
	case a := <-paid:
		t.Fatalf("the payment answered %d (%v) before charging", a.status, a.err)
	case <-time.After(5 * time.Second):
		t.Fatal("the charge never started")
	}
	if time.Now().After(o.ExpiresAt) {
		t.Fatalf("the charge started after the order expired at %s", o.ExpiresAt)
	}
	natsbustest.Eventually(t, 5*time.Second, "the expiry cancels the order while its charge is held", func() bool {
		return orderStatus(buyer, o.ID) == "cancelled"
	})
	close(held.release)
	select {
	case a := <-paid:
		if a.err != nil || a.status != http.StatusCreated {
			t.Fatalf("the charge went through, but the payment answered %d (%v)", a.status, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the payment did not answer after its charge was released")
	}
	natsbustest.Eventually(t, 5*time.Second, "the late payment is refunded", func() bool { return paymentStatus(o.ID) == "refunded" })
	if s := orderStatus(buyer, o.ID); s != "cancelled" {
		t.Fatalf("order %s after a late payment, want cancelled", s)
	}
	natsbustest.Eventually(t, 5*time.Second, "the ticket is on sale again", func() bool { return listed(buyer, tk.ID) })
}

package main

import (
	"context"
	"net/http"
	"testing"
	"time"
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
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	ExpiresAt time.Time  `json:"expiresAt"`
	Version   int64      `json:"version"`
	Ticket    ticketJSON `json:"ticket"`
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

// eventually polls cond until it holds or the deadline passes: events take
// a moment to travel between services.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond) // polling another service's state, not synchronizing goroutines
	}
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
	eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &order) == http.StatusCreated
	})
	if order.Status != "created" || order.Ticket.ID != tk.ID || time.Until(order.ExpiresAt) < 14*time.Minute {
		t.Fatalf("order = %+v", order)
	}
	if got := seller.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil); got != http.StatusBadRequest {
		t.Fatalf("second reservation = %d, want 400", got)
	}
	eventually(t, 5*time.Second, "the reserved ticket leaves the list and carries the order id", func() bool {
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
	eventually(t, 5*time.Second, "the cancelled order's ticket is back on the list", func() bool {
		var got ticketJSON
		buyer.do("GET", "/api/tickets/"+tk.ID, nil, &got)
		return got.OrderID == "" && listed(buyer, tk.ID)
	})
	var mine []orderJSON
	buyer.do("GET", "/api/orders", nil, &mine)
	if len(mine) != 1 || mine[0].Status != "cancelled" {
		t.Fatalf("buyer's orders = %+v, want one cancelled", mine)
	}
	// The ticket can be reserved again once orders has seen it released.
	eventually(t, 5*time.Second, "the ticket can be reserved again", func() bool {
		return seller.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, nil) == http.StatusCreated
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
	eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &o) == http.StatusCreated
	})
	return tk, o
}

// TestUpOrderExpires: with a short window an unpaid order is cancelled on
// time and its ticket is on sale again; a restart of the whole system while
// an order is pending still expires it, even when it fell due during the
// downtime.
func TestUpOrderExpires(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EXPIRATION_WINDOW": "2s"}
	base, app := startUp(t, dir, env)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	tk, o := sellAndReserve(t, seller, buyer, "Expiring show")
	eventually(t, 5*time.Second, "the reserved ticket leaves the list", func() bool { return !listed(buyer, tk.ID) })
	eventually(t, 5*time.Second, "the order expires", func() bool { return orderStatus(buyer, o.ID) == "cancelled" })
	if late := time.Since(o.ExpiresAt); late > 3*time.Second {
		t.Errorf("order cancelled %s after expiresAt", late)
	}
	eventually(t, 5*time.Second, "the expired order's ticket is on sale again", func() bool { return listed(buyer, tk.ID) })

	// Reserve again, stop everything, let the window pass, start again.
	_, o2 := sellAndReserve(t, seller, buyer, "Restart show")
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-time.After(time.Until(o2.ExpiresAt)) // the expiry falls due while the system is down
	base2, _ := startUp(t, dir, env)
	buyer.base = base2
	eventually(t, 5*time.Second, "the order that fell due during the downtime expires", func() bool {
		return orderStatus(buyer, o2.ID) == "cancelled"
	})
}

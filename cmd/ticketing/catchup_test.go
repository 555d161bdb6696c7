package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/orders"
)

// TestUpReserveJustCreated reserves each ticket the moment its creation
// answers, through the gateway of `up` and with no retry: orders may not
// have its ticket.created yet, and waits for it instead of answering 404.
// A ticket no one created is still a 404, once the bound has passed.
func TestUpReserveJustCreated(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	for i := range 5 {
		var tk ticketJSON
		if got := seller.do("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Show %d", i), "price": 10}, &tk); got != http.StatusCreated {
			t.Fatalf("create ticket %d = %d", i, got)
		}
		var o orderJSON
		if got := buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &o); got != http.StatusCreated {
			t.Fatalf("reserve ticket %d the moment it was created = %d, want 201", i, got)
		}
		if o.Ticket.ID != tk.ID || o.Status != "created" {
			t.Fatalf("order %d = %+v", i, o)
		}
	}
	began := time.Now()
	if got := buyer.do("POST", "/api/orders", map[string]string{"ticketId": "no-such-ticket"}, nil); got != http.StatusNotFound {
		t.Fatalf("reserve an unknown ticket = %d, want 404", got)
	}
	if took := time.Since(began); took < orders.DefaultCatchUp {
		t.Errorf("an unknown ticket answered after %v, before the bound %v", took, orders.DefaultCatchUp)
	}
}

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestUpResale is the resale of an issued ticket end to end through `up`
// (DESIGN.md 9.3): a buyer lists the ticket they hold, within the cap;
// someone else orders it by id and pays; then the first buyer's code is
// void at the door and the second buyer's admitted.
func TestUpResale(t *testing.T) {
	t.Parallel()
	const key = "resale-test-key-resale-test-key-"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	first := signUp(t, base, "first@example.com")
	second := signUp(t, base, "second@example.com")
	door := signUp(t, base, "door@example.com")

	show := createOnSaleEvent(t, org, "Jazz night", 1)
	if got := org.do("POST", "/api/events/"+show+"/staff", map[string]string{"email": "door@example.com"}, nil); got != http.StatusOK {
		t.Fatalf("add staff = %d", got)
	}
	ticket := buyHeld(t, first, show)
	var old codeJSON
	if got := first.do("GET", "/api/tickets/"+ticket+"/code", nil, &old); got != http.StatusOK {
		t.Fatalf("first buyer's code = %d", got)
	}

	// The cap is the face value (40.00, resaleCapPercent's default 100).
	var refused errorCode
	if got := first.do("POST", "/api/tickets/"+ticket+"/listing", map[string]any{"price": 40.01}, &refused); got != http.StatusBadRequest || refused.code() != "over_resale_cap" {
		t.Fatalf("listing over the cap = %d %s, want 400 over_resale_cap", got, refused.code())
	}
	if got := second.do("POST", "/api/tickets/"+ticket+"/listing", map[string]any{"price": 40}, nil); got != http.StatusNotFound {
		t.Fatalf("listing someone else's ticket = %d, want 404", got)
	}
	var listed issuedJSON
	if got := first.do("POST", "/api/tickets/"+ticket+"/listing", map[string]any{"price": 38}, &listed); got != http.StatusOK || listed.Status != "on_sale" {
		t.Fatalf("listing = %d %+v, want 200 on_sale", got, listed)
	}

	// Orders learns of the listing from ticket.updated: until then the
	// ticket is held and not for sale.
	var order orderJSON
	natsbustest.Eventually(t, 15*time.Second, "an order for the listing", func() bool {
		return second.do("POST", "/api/orders", map[string]string{"ticketId": ticket}, &order) == http.StatusCreated
	})
	if order.Ticket.Price != 38 {
		t.Fatalf("resale order = %+v, want the listing's price 38", order)
	}
	natsbustest.Eventually(t, 15*time.Second, "the resale is paid", func() bool {
		return pay(t, second, order.ID, "tok_visa") == http.StatusCreated
	})
	var held issuedJSON
	natsbustest.Eventually(t, 15*time.Second, "the second buyer holds the ticket", func() bool {
		second.do("GET", "/api/tickets/"+ticket, nil, &held)
		return held.Status == "held" && held.HeldByYou
	})
	var fresh codeJSON
	if got := second.do("GET", "/api/tickets/"+ticket+"/code", nil, &fresh); got != http.StatusOK || fresh.CodeVersion != old.CodeVersion+1 {
		t.Fatalf("second buyer's code = %d %+v, want a new code version", got, fresh)
	}
	if got := first.do("GET", "/api/tickets/"+ticket+"/code", nil, nil); got != http.StatusNotFound {
		t.Fatalf("first buyer's code after the resale = %d, want 404", got)
	}

	for _, c := range []string{old.Code, old.Short} {
		var out checkinJSON
		if got := door.do("POST", "/api/checkins", map[string]string{"code": c, "eventId": show}, &out); got != http.StatusOK || out.Result != "void" {
			t.Fatalf("first buyer's code %s at the door = %d %+v, want void", c, got, out)
		}
	}
	var in checkinJSON
	if got := door.do("POST", "/api/checkins", map[string]string{"code": fresh.Code, "eventId": show}, &in); got != http.StatusOK || in.Result != "admitted" {
		t.Fatalf("second buyer's code at the door = %d %+v, want admitted", got, in)
	}
}

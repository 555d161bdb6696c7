package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestUpCapLowered is a lower resale cap end to end through `up`
// (DESIGN.md 9.3, issue 13): two holders list within a 120% cap of a
// 40.00 face value; the organizer lowers it to 105% (42.00). The listing
// above the new cap leaves sale, its holder told why and keeping their
// code; nobody can order it; the listing within the cap stays on sale and
// is ordered.
func TestUpCapLowered(t *testing.T) {
	t.Parallel()
	const key = "capchg-test-key-capchg-test-key-"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	high := signUp(t, base, "high@example.com")
	low := signUp(t, base, "low@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	show := createOnSaleEvent(t, org, "Cap night", 2)
	if got := org.do("PUT", "/api/events/"+show, map[string]any{"resaleCapPercent": 120}, nil); got != http.StatusOK {
		t.Fatalf("raise the cap = %d", got)
	}
	highTicket, lowTicket := buyHeld(t, high, show), buyHeld(t, low, show)
	var code codeJSON
	if got := high.do("GET", "/api/tickets/"+highTicket+"/code", nil, &code); got != http.StatusOK {
		t.Fatalf("code = %d", got)
	}
	natsbustest.Eventually(t, 15*time.Second, "tickets applies the 120% cap", func() bool {
		return high.do("POST", "/api/tickets/"+highTicket+"/listing", map[string]any{"price": 45}, nil) == http.StatusOK
	})
	if got := low.do("POST", "/api/tickets/"+lowTicket+"/listing", map[string]any{"price": 41}, nil); got != http.StatusOK {
		t.Fatalf("listing within the cap = %d", got)
	}

	if got := org.do("PUT", "/api/events/"+show, map[string]any{"resaleCapPercent": 105}, nil); got != http.StatusOK {
		t.Fatalf("lower the cap = %d", got)
	}
	var withdrawn struct {
		issuedJSON
		WithdrawnReason string  `json:"withdrawnReason"`
		WithdrawnCap    float64 `json:"withdrawnCap"`
	}
	natsbustest.Eventually(t, 15*time.Second, "the listing above the new cap leaves sale", func() bool {
		high.do("GET", "/api/tickets/"+highTicket, nil, &withdrawn)
		return withdrawn.Status == "held"
	})
	if !withdrawn.HeldByYou || withdrawn.WithdrawnReason != "over_resale_cap" || withdrawn.WithdrawnCap != 42 {
		t.Fatalf("withdrawn listing = %+v, want held by its holder, over_resale_cap at 42", withdrawn)
	}
	var same codeJSON
	if got := high.do("GET", "/api/tickets/"+highTicket+"/code", nil, &same); got != http.StatusOK || same.Code != code.Code {
		t.Fatalf("the holder's code after the withdrawal = %d, changed %v", got, same.Code != code.Code)
	}
	var refused errorCode
	natsbustest.Eventually(t, 15*time.Second, "orders stops selling it", func() bool {
		got := buyer.do("POST", "/api/orders", map[string]string{"ticketId": highTicket}, &refused)
		return got == http.StatusBadRequest && refused.code() == "ticket_not_available"
	})
	var order orderJSON
	natsbustest.Eventually(t, 15*time.Second, "an order for the listing within the cap", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": lowTicket}, &order) == http.StatusCreated
	})
	if order.Ticket.Price != 41 {
		t.Fatalf("order = %+v, want the listing's 41", order)
	}
	// Listing again: the new cap.
	if got := high.do("POST", "/api/tickets/"+highTicket+"/listing", map[string]any{"price": 42.01}, &refused); got != http.StatusBadRequest || refused.code() != "over_resale_cap" {
		t.Fatalf("listing above the new cap = %d %s", got, refused.code())
	}
}

package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/flashsale"
)

// TestUpResaleFlash runs cmd/flashsale's resale flash at a small scale
// against `up`: 20 tickets bought, paid for and listed by their holders,
// then 60 buyers, three for each listing at once. Exactly one of each
// three wins, the others are told the ticket is reserved, each listing is
// in one active order, and every winner, once paid, holds their ticket
// alone.
func TestUpResaleFlash(t *testing.T) {
	parallelUnlessRace(t)
	dir := t.TempDir()
	base, _ := startUp(t, dir, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	key, err := flashsale.KeyFromFile(filepath.Join(dir, "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	const listings, buyers = 20, 60
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := flashsale.Resale(ctx, flashsale.ResaleConfig{Base: base, Key: key, Listings: listings, Buyers: buyers,
		InFlight: 16, Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Verify.Err(); err != nil {
		t.Fatal(err)
	}
	s := res.Stats()
	if s.Won != listings || s.ByStatus[http.StatusCreated] != listings || s.Errors != 0 || s.ByCode["ticket_reserved"] != buyers-listings {
		t.Errorf("answers = %d won, by status %v, by code %v, %d transport errors; want %d won, %d ticket_reserved",
			s.Won, s.ByStatus, s.ByCode, s.Errors, listings, buyers-listings)
	}
	if v := res.Verify; v.ActiveOrders != listings || v.DistinctTickets != listings || res.Holders != listings {
		t.Errorf("verification = %+v, %d holders; want %d orders on %d tickets, each held alone", v, res.Holders, listings, listings)
	}
}

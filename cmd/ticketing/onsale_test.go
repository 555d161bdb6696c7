package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/flashsale"
)

// TestUpOnSale runs cmd/flashsale's on-sale scenario at a small scale
// against `up`, with sessions minted from the data dir's jwt.key: an
// organizer's event of 50 tickets, 100 buyers at 16 in flight. Exactly 50
// win, each a different ticket, the other 50 are told sold_out, and the
// scenario's own read-back verification finds nothing wrong. Then the
// door: 20 winners pay and read their codes, the organizer scans them
// all (each admitted), and the re-scanned sample is already_used.
func TestUpOnSale(t *testing.T) {
	parallelUnlessRace(t)
	dir := t.TempDir()
	// Each buyer names its own address in X-Forwarded-For, believed from
	// 127.0.0.1: the hoarding bounds stay at their defaults.
	base, _ := startUp(t, dir, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	key, err := flashsale.KeyFromFile(filepath.Join(dir, "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	const tickets, buyers, checkIn = 50, 100, 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := flashsale.OnSale(ctx, flashsale.OnSaleConfig{Base: base, Key: key, Tickets: tickets, Buyers: buyers,
		InFlight: 16, Wait: time.Minute, CheckIn: checkIn})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Verify.Err(); err != nil {
		t.Fatal(err)
	}
	s := res.Stats()
	if s.Won != tickets || s.Lost != buyers-tickets || s.ByStatus[http.StatusCreated] != tickets || s.Errors != 0 {
		t.Errorf("answers = %d won, %d sold_out, by status %v, %d transport errors; want %d and %d",
			s.Won, s.Lost, s.ByStatus, s.Errors, tickets, buyers-tickets)
	}
	if v := res.Verify; v.ActiveOrders != tickets || v.DistinctTickets != tickets || v.TicketsLeft != 0 {
		t.Errorf("verification = %+v, want %d active orders on %d tickets, none left", v, tickets, tickets)
	}
	ci := res.CheckIn
	if ci == nil {
		t.Fatal("the check-in part did not run")
	}
	if err := ci.Err(); err != nil {
		t.Fatal(err)
	}
	if cs := ci.Stats(); ci.Tickets != checkIn || ci.Codes != checkIn || cs.Scans != checkIn || cs.ByKind["admitted"] != checkIn {
		t.Errorf("check-in = %d paid, %d codes, %d scans by result %v; want %d, all admitted", ci.Tickets, ci.Codes, cs.Scans, cs.ByKind, checkIn)
	}
	if want := (checkIn + flashsale.RescanEvery - 1) / flashsale.RescanEvery; len(ci.Rescans) != want {
		t.Errorf("%d re-scans, want %d", len(ci.Rescans), want)
	}
	for _, sc := range ci.Rescans {
		if sc.Status != http.StatusOK || sc.Result != "already_used" {
			t.Errorf("re-scan = %+v, want 200 already_used", sc)
		}
	}
}

package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/flashsale"
)

// TestUpQueueFlash runs cmd/flashsale's waiting-room scenario at a small
// scale against `up`: 300 visitors join an event of 20 tickets with its
// queue on over 3 s before the on-sale, 20 of them hold the live stream
// across the draw, all poll their place, 5 arrive late; the 30 places let
// in (20 × 1.5) reserve, 20 win, and the scenario's own checks (one place
// each, early before late, admission in queue order, never more shoppers
// past the check than let in, orders read back, sold_out told) find
// nothing wrong.
func TestUpQueueFlash(t *testing.T) {
	parallelUnlessRace(t)
	dir := t.TempDir()
	base, _ := startUp(t, dir, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	key, err := flashsale.KeyFromFile(filepath.Join(dir, "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	const tickets, visitors, streams, late = 20, 300, 20, 5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := flashsale.QueueConfig{Base: base, Key: key, Tickets: tickets, Visitors: visitors, JoinWindow: 3 * time.Second,
		PollFor: 3 * time.Second, Streams: streams, Late: late, InFlight: 16, Wait: time.Minute}
	res, err := flashsale.Queue(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(c); err != nil {
		t.Fatal(err)
	}
	if res.Joins.ByStatus[http.StatusOK] != visitors || res.Early != visitors || res.Late.ByStatus[http.StatusOK] != late {
		t.Errorf("joins = %v, %d before the draw, late %v; want all %d early and %d late", res.Joins.ByStatus, res.Early, res.Late.ByStatus, visitors, late)
	}
	if res.Reads.ByStatus[http.StatusOK] < visitors {
		t.Errorf("reads = %v, want at least one each", res.Reads.ByStatus)
	}
	if res.Admitted != 30 || res.Limit != 30 || res.MaxLive > 30 || res.MaxLive < tickets {
		t.Errorf("let in %d, limit %d, at once %d; want 30, 30, 20..30", res.Admitted, res.Limit, res.MaxLive)
	}
	if s := res.Stats(); s.Won != tickets || s.Lost != 30-tickets {
		t.Errorf("reservations: %d won, %d sold_out, by status %v", s.Won, s.Lost, s.ByStatus)
	}
	if res.Streams.Updated != streams || res.Streams.MaxOpen != streams {
		t.Errorf("streams = %+v, want %d updated, all open at once", res.Streams, streams)
	}
	if res.Asked != visitors-30 || res.SoldOut != res.Asked {
		t.Errorf("sold out told %d of %d asked, want all %d waiting", res.SoldOut, res.Asked, visitors-30)
	}
}

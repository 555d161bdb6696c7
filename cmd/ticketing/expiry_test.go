package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestUpExpiryP99 measures, through the gateway of `up`, how late orders are
// cancelled after their expiresAt: 40 orders expiring within a second, p99
// under one second; then the same with the system stopped across the
// expiry, measured from the moment it is back.
//
// Not parallel: it measures latency, which other tests running beside it
// would distort. For the same reason .ci/run runs it on its own, after the
// other packages' tests.
func TestUpExpiryP99(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for expiries")
	}
	dir := t.TempDir()
	env := map[string]string{"EXPIRATION_WINDOW": "3s", "MAX_PENDING_ORDERS": "1000", "MAX_PENDING_ORDERS_PER_ADDRESS": "1000"}
	base, app := startUp(t, dir, env)
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")

	reserve := func(n int) map[string]time.Time {
		due := map[string]time.Time{}
		ids := make([]string, n)
		for i := range ids {
			var tk ticketJSON
			if got := seller.do("POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Seat %d", i), "price": 5}, &tk); got != http.StatusCreated {
				t.Fatalf("create ticket = %d", got)
			}
			ids[i] = tk.ID
		}
		for _, id := range ids {
			var o orderJSON
			natsbustest.Eventually(t, 5*time.Second, "orders knows the ticket", func() bool {
				return buyer.do("POST", "/api/orders", map[string]string{"ticketId": id}, &o) == http.StatusCreated
			})
			due[o.ID] = o.ExpiresAt
		}
		return due
	}
	// watchEach polls the buyer's orders and returns, for each order in
	// due, how long after since it was first seen cancelled; each is also
	// given to each.
	watchEach := func(due map[string]time.Time, since func(id string) time.Time, each func(id string, d time.Duration)) []time.Duration {
		seen := map[string]time.Duration{}
		natsbustest.Eventually(t, 20*time.Second, "every order is cancelled", func() bool {
			var list []orderJSON
			buyer.do("GET", "/api/orders", nil, &list)
			now := time.Now()
			for _, o := range list {
				if _, ok := due[o.ID]; ok && o.Status == "cancelled" {
					if _, done := seen[o.ID]; !done {
						seen[o.ID] = now.Sub(since(o.ID))
					}
				}
			}
			return len(seen) == len(due)
		})
		var lat []time.Duration
		for id, d := range seen {
			lat = append(lat, d)
			each(id, d)
		}
		slices.Sort(lat)
		return lat
	}
	// p99 is the nearest-rank 99th percentile.
	p99 := func(lat []time.Duration) time.Duration { return lat[int(math.Ceil(0.99*float64(len(lat))))-1] }

	due := reserve(40)
	lat := watchEach(due, func(id string) time.Time { return due[id] }, func(string, time.Duration) {})
	t.Logf("running: lateness p50 %s, p99 %s, max %s", lat[len(lat)/2], p99(lat), lat[len(lat)-1])
	if lat[0] < -50*time.Millisecond {
		t.Errorf("an order was cancelled %s before its expiresAt", -lat[0])
	}
	if p99(lat) > time.Second {
		t.Errorf("p99 lateness %s, want under 1s", p99(lat))
	}

	// Stop across the expiry: measured from when the system is ready again.
	due = reserve(20)
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for _, d := range due {
		if d.After(last) {
			last = d
		}
	}
	<-time.After(time.Until(last)) // every order falls due while the system is down
	// The restarted system logs at debug level, so that a late order
	// comes with the history of its events.
	var kept eventLog
	base2, _ := startUpLogged(t, dir, env, nil, slog.New(slog.NewTextHandler(&kept, &slog.HandlerOptions{Level: slog.LevelDebug})))
	back := time.Now()
	buyer.base = base2
	late := map[string]time.Duration{}
	lat = watchEach(due, func(string) time.Time { return back }, func(id string, d time.Duration) {
		if d > time.Second {
			late[id] = d
		}
	})
	t.Logf("after restart: since ready p50 %s, p99 %s, max %s", lat[len(lat)/2], p99(lat), lat[len(lat)-1])
	if p99(lat) > time.Second {
		t.Errorf("after a restart, p99 %s from ready to cancelled, want under 1s", p99(lat))
		for id, d := range late {
			t.Logf("order %s (expiresAt %s) cancelled %s after ready", id, due[id].Format(time.RFC3339Nano), d)
		}
		t.Logf("what the restarted system logged, but its requests:\n%s", kept.String())
	}
}

// eventLog keeps what a system logs, but its requests.
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(" msg=request ")) {
		l.mu.Lock()
		l.lines = append(l.lines, string(p))
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

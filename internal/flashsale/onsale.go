// Package flashsale is the on-sale load scenario of cmd/flashsale, kept
// apart from the command so that a test of cmd/ticketing can run it
// against an `up` it starts in-process.
//
// The on-sale: an organizer creates one event through POST /api/events;
// once every ticket is issued, and the orders part knows the event and its
// tickets, every buyer sends one POST /api/orders {eventId} at a bounded
// number in flight. Afterwards it checks, through the API alone, that
// exactly as many orders are active as the event has tickets and that no
// ticket is in two of them. With CheckIn, some winners then pay and the
// organizer scans their codes at the door (checkin.go).
//
// Sessions are minted with the system's JWT key (session.Issue) instead of
// signing up thousands of accounts through argon2id, which is slow on
// purpose: the services trust a token's subject, organizer claim included,
// as they trust any token signed with their key.
package flashsale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticketing/ticketing/internal/platform/session"
)

// OnSaleConfig is one on-sale run.
type OnSaleConfig struct {
	// Base is the gateway's URL.
	Base string
	// Key is the session signing key the system checks tokens with.
	Key []byte
	// Tickets is the event's capacity; Buyers each try once.
	Tickets, Buyers int
	// InFlight is how many reservations are sent at once.
	InFlight int
	// Wait bounds each wait on the system: the tickets issued, orders
	// knowing them, the count of tickets left settling. 0 means 5 minutes.
	Wait time.Duration
	// Log, when set, gets a line at each step.
	Log io.Writer
	// OneAddress sends every buyer's requests as they are, all from the
	// load generator's one address. Otherwise each buyer names an address
	// of its own in X-Forwarded-For (10.0.0.0/8, the buyer's index), which
	// a system started with TRUSTED_PROXIES=127.0.0.1/32 believes: the
	// hoarding bounds then count each buyer apart, as for buyers on the
	// internet, and can stay at their defaults. A system that does not
	// trust the load generator ignores the header.
	OneAddress bool
	// CheckIn is how many of the winners then pay and have their codes
	// scanned at the door (see checkin.go), 0 none. It runs only after the
	// sale verified.
	CheckIn int
}

// Answer is what one buyer's POST /api/orders got.
type Answer struct {
	Status int
	// Code is the error code of a refusal ("sold_out").
	Code string
	// OrderID and TicketID are those of a 201.
	OrderID, TicketID string
	// Err is a transport error (Status 0).
	Err error
	// Latency is from sending to the end of the answer; At is that end,
	// from the start of the sale.
	Latency, At time.Duration
}

// OnSaleResult is what a run measured and found.
type OnSaleResult struct {
	EventID string
	// Issued is how long the event took from creation until its tickets
	// were issued and the orders part knew them.
	Issued time.Duration
	// Answers are the buyers' answers, in buyer order.
	Answers []Answer
	// Elapsed is the whole sale, from the first request to the last answer.
	Elapsed time.Duration
	// Verification, read back after the sale.
	Verify Verification
	// CheckIn is the check-in part, nil when it did not run.
	CheckIn *CheckInResult
}

// Verification is what the system holds after the sale.
type Verification struct {
	// ActiveOrders are the orders of the event not cancelled (created,
	// awaiting payment or complete), read back from orders.
	ActiveOrders int
	// DistinctTickets is how many different tickets those orders hold.
	DistinctTickets int
	// TicketsLeft is the event's count when it settled (or at the deadline).
	TicketsLeft int64
	// Problems are the checks that failed, empty when the sale was right.
	Problems []string
}

// Stats are the figures of a run.
type Stats struct {
	Attempts, Won, Lost, Errors int
	ByStatus                    map[int]int
	ByCode                      map[string]int
	// Window is the time while tickets remained: from the start until the
	// last 201 was answered; WindowAttempts were answered within it.
	Window         time.Duration
	WindowAttempts int
	// WinLat and LoseLat are the sorted latencies of the 201s and of the
	// 409 sold_out answers.
	WinLat, LoseLat []time.Duration
}

// Stats sums up the answers.
func (r *OnSaleResult) Stats() Stats {
	s := Stats{ByStatus: map[int]int{}, ByCode: map[string]int{}}
	for _, a := range r.Answers {
		s.Attempts++
		switch {
		case a.Err != nil:
			s.Errors++
			continue
		case a.Status == http.StatusCreated:
			s.Won++
			s.WinLat = append(s.WinLat, a.Latency)
			s.Window = max(s.Window, a.At)
		case a.Status == http.StatusConflict && a.Code == "sold_out":
			s.Lost++
			s.LoseLat = append(s.LoseLat, a.Latency)
		}
		s.ByStatus[a.Status]++
		if a.Code != "" {
			s.ByCode[a.Code]++
		}
	}
	for _, a := range r.Answers {
		if a.At <= s.Window {
			s.WindowAttempts++
		}
	}
	slices.Sort(s.WinLat)
	slices.Sort(s.LoseLat)
	return s
}

// Pct is the p-th quantile (0..1) of sorted latencies, 0 of none.
func Pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

// Print writes the run's figures and verification.
func (r *OnSaleResult) Print(w io.Writer, c OnSaleConfig) {
	s := r.Stats()
	from := "an address each (X-Forwarded-For)"
	if c.OneAddress {
		from = "one address"
	}
	fmt.Fprintf(w, "on-sale: %d tickets, %d buyers from %s, %d in flight, event %s\n", c.Tickets, c.Buyers, from, c.InFlight, r.EventID)
	fmt.Fprintf(w, "issued:     %s (created until every ticket issued and known to orders)\n", r.Issued.Round(time.Millisecond))
	rate := func(n int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	fmt.Fprintf(w, "attempts:   %d in %s (%.0f/s)\n", s.Attempts, r.Elapsed.Round(time.Millisecond), rate(s.Attempts, r.Elapsed))
	fmt.Fprintf(w, "while tickets remained: %d in %s (%.0f/s)\n", s.WindowAttempts, s.Window.Round(time.Millisecond), rate(s.WindowAttempts, s.Window))
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(w, "  %d: %d\n", st, s.ByStatus[st])
	}
	for _, code := range slices.Sorted(maps.Keys(s.ByCode)) {
		fmt.Fprintf(w, "  %s: %d\n", code, s.ByCode[code])
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "  transport errors: %d\n", s.Errors)
	}
	fmt.Fprintf(w, "winners:    p50 %s  p99 %s  max %s (the 201s)\n", Pct(s.WinLat, 0.5), Pct(s.WinLat, 0.99), Pct(s.WinLat, 1))
	fmt.Fprintf(w, "losers:     p50 %s  p99 %s  max %s (the 409 sold_out)\n", Pct(s.LoseLat, 0.5), Pct(s.LoseLat, 0.99), Pct(s.LoseLat, 1))
	v := r.Verify
	fmt.Fprintf(w, "verified:   %d active orders, %d distinct tickets in them, tickets left %d\n", v.ActiveOrders, v.DistinctTickets, v.TicketsLeft)
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
	if r.CheckIn != nil {
		r.CheckIn.Print(w, c)
	}
}

// KeyFromFile reads a session key kept in a file, as `up` keeps jwt.key
// in its data dir.
func KeyFromFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k := bytes.TrimSpace(b)
	if len(k) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return k, nil
}

// client calls the API with one session token.
type client struct {
	c     *http.Client
	base  string
	token string
	// addr, when set, is sent as X-Forwarded-For.
	addr string
}

func (c client) do(ctx context.Context, method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" { // none: a stranger's request
		req.AddCookie(&http.Cookie{Name: session.CookieName, Value: c.token})
	}
	if c.addr != "" {
		req.Header.Set("X-Forwarded-For", c.addr)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, b, nil
}

// errorCode is the first error code of an API error body, "" if none.
func errorCode(b []byte) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

type eventJSON struct {
	ID            string `json:"id"`
	Capacity      int    `json:"capacity"`
	TicketsLeft   int64  `json:"ticketsLeft"`
	TicketsIssued int64  `json:"ticketsIssued"`
}

// Order is an order as read back from GET /api/orders.
type Order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Ticket struct {
		ID      string `json:"id"`
		EventID string `json:"eventId"`
	} `json:"ticket"`
}

// OnSale runs the on-sale scenario of c.
func OnSale(ctx context.Context, c OnSaleConfig) (*OnSaleResult, error) {
	if c.Tickets < 1 || c.Buyers < 1 || c.InFlight < 1 {
		return nil, errors.New("on-sale: tickets, buyers and in-flight must be at least 1")
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Minute
	}
	logf := logger(c.Log)
	m := newMinter(c.Key, c.Base, c.InFlight, c.OneAddress)
	defer m.close()
	run := m.run
	org, err := m.mint("organizer", true)
	if err != nil {
		return nil, err
	}

	created := time.Now()
	ev, err := createEvent(ctx, c.Wait, org, map[string]any{
		"name": fmt.Sprintf("On-sale %d", run), "venue": "Flash Hall",
		"startsAt":  time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"faceValue": 45, "capacity": c.Tickets,
	}, logf)
	if err != nil {
		return nil, err
	}
	res := &OnSaleResult{EventID: ev.ID}
	res.Issued = time.Since(created)
	logf("tickets issued and known to orders after %s; minting %d buyers", res.Issued.Round(time.Millisecond), c.Buyers)

	buyers := make([]client, c.Buyers)
	for i := range buyers {
		if buyers[i], err = m.mint("buyer", false); err != nil {
			return nil, err
		}
	}

	res.Answers = make([]Answer, c.Buyers)
	start := time.Now()
	each(c.InFlight, c.Buyers, func(i int) {
		res.Answers[i] = reserve(ctx, buyers[i], map[string]string{"eventId": ev.ID}, start)
	})
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf("sale over after %s; verifying", res.Elapsed.Round(time.Millisecond))
	res.Verify = verify(ctx, c, org, buyers, ev.ID, res.Answers)
	if c.CheckIn > 0 && res.Verify.Err() == nil {
		logf("sale verified; paying for %d orders and scanning their codes", min(c.CheckIn, c.Tickets))
		res.CheckIn = checkIn(ctx, c, org, buyers, ev.ID, res.Answers)
	}
	return res, nil
}

// createEvent creates the organizer's event of body (whose capacity is
// its "capacity") and waits until its tickets are issued and the orders
// part knows them all.
func createEvent(ctx context.Context, wait time.Duration, org client, body map[string]any, logf func(string, ...any)) (eventJSON, error) {
	var ev eventJSON
	st, b, err := org.do(ctx, "POST", "/api/events", body, &ev)
	if err != nil || st != http.StatusCreated {
		return ev, fmt.Errorf("create event: %d %s %v", st, b, err)
	}
	logf("event %s created; waiting for its %d tickets", ev.ID, ev.Capacity)
	if err := waitFor(ctx, wait, "the event's tickets issued", func() (bool, error) {
		var e eventJSON
		st, b, err := org.do(ctx, "GET", "/api/events/"+ev.ID, nil, &e)
		if err != nil || st != http.StatusOK {
			return false, fmt.Errorf("read event: %d %s %v", st, b, err)
		}
		return e.TicketsIssued == int64(ev.Capacity), nil
	}); err != nil {
		return ev, err
	}
	return ev, waitForOrders(ctx, wait, org, ev.ID, ownTicket)
}

// reserve is one buyer's attempt, POST /api/orders with body, timed from
// the race's start.
func reserve(ctx context.Context, buyer client, body map[string]string, start time.Time) Answer {
	t0 := time.Now()
	var o Order
	st, b, err := buyer.do(ctx, "POST", "/api/orders", body, &o)
	a := Answer{Status: st, Err: err, Latency: time.Since(t0), At: time.Since(start)}
	if err == nil && st == http.StatusCreated {
		a.OrderID, a.TicketID = o.ID, o.Ticket.ID
	} else if err == nil {
		a.Code = errorCode(b)
	}
	return a
}

// waitForOrders waits until the orders part knows the event and all its
// tickets. The organizer ordering their own event is refused known
// (own_ticket, or queue_required while its waiting room is open)
// once orders has the event (404 before). The tickets' ticket.created
// events left the tickets part before the probe listing's, made after the
// event counted every ticket issued: once orders refuses the organizer
// their own probe ticket, it has consumed the event's tickets too.
func waitForOrders(ctx context.Context, wait time.Duration, org client, eventID string, known refusal) error {
	refused := func(body map[string]string, want refusal) func() (bool, error) {
		return func() (bool, error) {
			st, b, err := org.do(ctx, "POST", "/api/orders", body, nil)
			switch {
			case err != nil:
				return false, err
			case st == want.status && errorCode(b) == want.code:
				return true, nil
			case st == http.StatusNotFound:
				return false, nil
			}
			return false, fmt.Errorf("probe reservation: %d %s", st, b)
		}
	}
	if err := waitFor(ctx, wait, "orders knows the event", refused(map[string]string{"eventId": eventID}, known)); err != nil {
		return err
	}
	var t struct{ ID string }
	st, b, err := org.do(ctx, "POST", "/api/tickets", map[string]any{"title": "Probe", "price": 1}, &t)
	if err != nil || st != http.StatusCreated {
		return fmt.Errorf("list probe ticket: %d %s %v", st, b, err)
	}
	return waitFor(ctx, wait, "orders knows the event's tickets", refused(map[string]string{"ticketId": t.ID}, ownTicket))
}

// refusal is an answer of orders to the organizer's probe reservation
// that says it knows what was asked for.
type refusal struct {
	status int
	code   string
}

// ownTicket is orders refusing an organizer their own event or ticket;
// queueRequired their own event while its waiting room is open.
var (
	ownTicket     = refusal{http.StatusBadRequest, "own_ticket"}
	queueRequired = refusal{http.StatusForbidden, "queue_required"}
)

// waitFor polls ready (a remote system) until it is true, fails, or wait
// passes.
func waitFor(ctx context.Context, wait time.Duration, what string, ready func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		ok, err := ready()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not after %s", what, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// verify reads back what the sale left: the order of every 201, every
// order of a buyer whose answer is unknown (a transport error or a 5xx:
// the order may exist), and the event's count of tickets left.
func verify(ctx context.Context, c OnSaleConfig, org client, buyers []client, eventID string, answers []Answer) Verification {
	var mu sync.Mutex
	var orders []Order
	var problems []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(c.InFlight, len(buyers)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(buyers) {
					return
				}
				a := answers[i]
				switch {
				case a.Err == nil && a.Status == http.StatusCreated:
					var o Order
					st, b, err := buyers[i].do(ctx, "GET", "/api/orders/"+a.OrderID, nil, &o)
					if err != nil || st != http.StatusOK {
						fail("read order %s: %d %s %v", a.OrderID, st, b, err)
						continue
					}
					mu.Lock()
					orders = append(orders, o)
					mu.Unlock()
				case a.Err != nil || a.Status >= 500:
					var list []Order
					st, b, err := buyers[i].do(ctx, "GET", "/api/orders", nil, &list)
					if err != nil || st != http.StatusOK {
						fail("list buyer %d's orders: %d %s %v", i, st, b, err)
						continue
					}
					mu.Lock()
					orders = append(orders, list...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	v := Check(c.Tickets, eventID, answers, orders)
	v.Problems = append(problems, v.Problems...)

	// The count of tickets left follows the tickets part, which reserves
	// each ticket when order.created reaches it.
	want := int64(c.Tickets - v.ActiveOrders)
	var e eventJSON
	err := waitFor(ctx, c.Wait, "the event's tickets left to settle", func() (bool, error) {
		st, b, err := org.do(ctx, "GET", "/api/events/"+eventID, nil, &e)
		if err != nil || st != http.StatusOK {
			return false, fmt.Errorf("read event: %d %s %v", st, b, err)
		}
		return e.TicketsLeft == want, nil
	})
	v.TicketsLeft = e.TicketsLeft
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
	}
	if v.TicketsLeft != 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("the event shows %d tickets left, want 0", v.TicketsLeft))
	}
	return v
}

// Check judges the sale from the answers and the orders read back (each
// order once): exactly capacity orders of the event active, each on its
// own ticket, and the 201s naming exactly those tickets.
func Check(capacity int, eventID string, answers []Answer, orders []Order) Verification {
	var v Verification
	fail := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	seen := map[string]string{} // ticket id → order id
	for _, o := range orders {
		if o.Ticket.EventID != eventID || o.Status == "cancelled" {
			continue
		}
		v.ActiveOrders++
		if other, ok := seen[o.Ticket.ID]; ok {
			fail("ticket %s is in orders %s and %s", o.Ticket.ID, other, o.ID)
			continue
		}
		seen[o.Ticket.ID] = o.ID
	}
	v.DistinctTickets = len(seen)
	won := map[string]bool{}
	wins := 0
	for _, a := range answers {
		if a.Err != nil || a.Status != http.StatusCreated {
			continue
		}
		wins++
		if won[a.TicketID] {
			fail("ticket %s was answered 201 twice", a.TicketID)
		}
		won[a.TicketID] = true
		if seen[a.TicketID] != a.OrderID {
			fail("order %s, answered 201 with ticket %s, is not an active order of it", a.OrderID, a.TicketID)
		}
	}
	if v.ActiveOrders != capacity {
		fail("%d active orders of the event, want exactly %d", v.ActiveOrders, capacity)
	}
	if len(won) != capacity {
		fail("%d distinct tickets among %d answers 201, want %d", len(won), wins, capacity)
	}
	return v
}

// Err is the problems as one error, nil when there are none.
func (v Verification) Err() error {
	if len(v.Problems) == 0 {
		return nil
	}
	return errors.New("on-sale verification failed: " + strings.Join(v.Problems, "; "))
}

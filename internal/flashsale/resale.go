package flashsale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The resale flash (issue 13, DESIGN.md 9.3): an organizer's event of
// Listings tickets, each bought at face value, paid for and listed for
// resale by its holder; then Buyers buyers race for the listings, a
// group of Buyers/Listings buyers for each one at once (buyer i wants
// listing i×Listings/Buyers), one POST /api/orders {ticketId} each. Exactly one
// of each group wins; the winners pay, and once each holds the ticket the
// run checks that nobody else does: the seller's view of it says it is no
// longer theirs and their code is refused, and no ticket is in two
// active orders.

// ResaleConfig is one resale flash.
type ResaleConfig struct {
	// Base is the gateway's URL; Key the session signing key.
	Base string
	Key  []byte
	// Listings is how many tickets are listed; Buyers race for them.
	Listings, Buyers int
	// InFlight is how many requests are sent at once.
	InFlight int
	// Wait bounds each wait on the system; 0 means 5 minutes.
	Wait time.Duration
	// Log, when set, gets a line at each step.
	Log io.Writer
}

// ResalePrice is what each holder asks, in dollars: above the face value
// (45) and within the event's cap (120%: 54).
const ResalePrice = 50

// ResaleResult is what a resale flash measured and found.
type ResaleResult struct {
	EventID string
	// Prepared is from the event's creation until every listing was on
	// sale and known to orders.
	Prepared time.Duration
	// Answers are the buyers' answers, in buyer order; Elapsed the race.
	Answers []Answer
	Elapsed time.Duration
	// Verify is the orders read back (as the on-sale's Check);
	// Holders how many winners hold their ticket alone afterwards.
	Verify  Verification
	Holders int
}

// ResaleStats are the figures of the race.
type ResaleStats struct {
	Stats
	// Lat are the sorted latencies of every answer.
	Lat []time.Duration
}

// Stats sums up the answers.
func (r *ResaleResult) Stats() ResaleStats {
	s := ResaleStats{Stats: (&OnSaleResult{Answers: r.Answers}).Stats()}
	for _, a := range r.Answers {
		if a.Err == nil {
			s.Lat = append(s.Lat, a.Latency)
		}
	}
	slices.Sort(s.Lat)
	return s
}

// Print writes the figures and the verification.
func (r *ResaleResult) Print(w io.Writer, c ResaleConfig) {
	s := r.Stats()
	fmt.Fprintf(w, "resale flash: %d listings of event %s, %d buyers, %d in flight\n", c.Listings, r.EventID, c.Buyers, c.InFlight)
	fmt.Fprintf(w, "prepared:   %s (event created until every ticket bought, paid, listed and known to orders)\n", r.Prepared.Round(time.Millisecond))
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(s.Attempts) / r.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "attempts:   %d in %s (%.0f/s)\n", s.Attempts, r.Elapsed.Round(time.Millisecond), rate)
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(w, "  %d: %d\n", st, s.ByStatus[st])
	}
	for _, code := range slices.Sorted(maps.Keys(s.ByCode)) {
		fmt.Fprintf(w, "  %s: %d\n", code, s.ByCode[code])
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "  transport errors: %d\n", s.Errors)
	}
	fmt.Fprintf(w, "latency:    p50 %s  p99 %s  max %s (every answer)\n", Pct(s.Lat, 0.5), Pct(s.Lat, 0.99), Pct(s.Lat, 1))
	fmt.Fprintf(w, "winners:    p50 %s  p99 %s (the 201s)\n", Pct(s.WinLat, 0.5), Pct(s.WinLat, 0.99))
	v := r.Verify
	fmt.Fprintf(w, "verified:   %d active resale orders on %d distinct tickets; %d winners paid and hold their ticket alone\n",
		v.ActiveOrders, v.DistinctTickets, r.Holders)
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
}

// listing is one holder's resale listing.
type listing struct {
	holder   client
	ticketID string
}

// Resale runs the resale flash of c.
func Resale(ctx context.Context, c ResaleConfig) (*ResaleResult, error) {
	if c.Listings < 1 || c.Buyers < 1 || c.InFlight < 1 {
		return nil, errors.New("resale: listings, buyers and in-flight must be at least 1")
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Minute
	}
	logf := logger(c.Log)
	m := newMinter(c.Key, c.Base, c.InFlight, false)
	defer m.close()
	run, mint := m.run, m.mint
	org, err := mint("organizer", true)
	if err != nil {
		return nil, err
	}
	created := time.Now()
	ev, err := createEvent(ctx, c.Wait, org, map[string]any{
		"name": fmt.Sprintf("Resale %d", run), "venue": "Flash Hall",
		"startsAt":  time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"faceValue": 45, "capacity": c.Listings, "resaleCapPercent": 120,
	}, logf)
	if err != nil {
		return nil, err
	}
	res := &ResaleResult{EventID: ev.ID}

	// The holders: each buys one ticket, pays, and lists it.
	listings := make([]listing, c.Listings)
	for i := range listings {
		if listings[i].holder, err = mint("holder", false); err != nil {
			return nil, err
		}
	}
	logf("tickets issued; %d holders buy, pay and list one each", c.Listings)
	var mu sync.Mutex
	var problems []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	each(c.InFlight, len(listings), func(i int) {
		l := &listings[i]
		var o Order
		st, b, err := l.holder.do(ctx, "POST", "/api/orders", map[string]string{"eventId": ev.ID}, &o)
		if err != nil || st != http.StatusCreated {
			fail("holder %d's order: %d %s %v", i, st, b, err)
			return
		}
		if err := payAndHold(ctx, c.Wait, l.holder, o.ID, o.Ticket.ID); err != nil {
			fail("holder %d: %v", i, err)
			return
		}
		st, b, err = l.holder.do(ctx, "POST", "/api/tickets/"+o.Ticket.ID+"/listing", map[string]any{"price": ResalePrice}, nil)
		if err != nil || st != http.StatusOK {
			fail("holder %d lists ticket %s: %d %s %v", i, o.Ticket.ID, st, b, err)
			return
		}
		// Orders knows the listing once it refuses the holder their own.
		err = waitFor(ctx, c.Wait, "orders to know listing "+o.Ticket.ID, func() (bool, error) {
			st, b, err := l.holder.do(ctx, "POST", "/api/orders", map[string]string{"ticketId": o.Ticket.ID}, nil)
			if err != nil {
				return false, err
			}
			return st == http.StatusBadRequest && errorCode(b) == "own_ticket", nil
		})
		if err != nil {
			fail("%v", err)
			return
		}
		l.ticketID = o.Ticket.ID
	})
	if len(problems) > 0 {
		return nil, errors.New("resale: preparing the listings failed: " + strings.Join(problems, "; "))
	}
	res.Prepared = time.Since(created)

	buyers := make([]client, c.Buyers)
	for i := range buyers {
		if buyers[i], err = mint("buyer", false); err != nil {
			return nil, err
		}
	}
	want := func(i int) listing { return listings[i*c.Listings/c.Buyers] }
	logf("%d listings on sale after %s; %d buyers race for them", c.Listings, res.Prepared.Round(time.Millisecond), c.Buyers)
	res.Answers = make([]Answer, c.Buyers)
	start := time.Now()
	each(c.InFlight, c.Buyers, func(i int) {
		res.Answers[i] = reserve(ctx, buyers[i], map[string]string{"ticketId": want(i).ticketID}, start)
	})
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf("race over after %s; verifying", res.Elapsed.Round(time.Millisecond))
	res.Verify = verifyResale(ctx, c, buyers, ev.ID, res.Answers)

	// The winners pay; each must then hold their ticket alone.
	seller := map[string]client{}
	for _, l := range listings {
		seller[l.ticketID] = l.holder
	}
	var holders int
	each(c.InFlight, c.Buyers, func(i int) {
		a := res.Answers[i]
		if a.Err != nil || a.Status != http.StatusCreated {
			return
		}
		if err := payAndHold(ctx, c.Wait, buyers[i], a.OrderID, a.TicketID); err != nil {
			fail("winner %d: %v", i, err)
			return
		}
		old := seller[a.TicketID]
		var t ticketJSON
		st, b, err := old.do(ctx, "GET", "/api/tickets/"+a.TicketID, nil, &t)
		if err != nil || st != http.StatusOK || t.HeldByYou {
			fail("ticket %s after its resale: the seller's view %d %s %v, want not theirs", a.TicketID, st, b, err)
			return
		}
		if st, b, err := old.do(ctx, "GET", "/api/tickets/"+a.TicketID+"/code", nil, nil); err != nil || st != http.StatusNotFound {
			fail("ticket %s after its resale: the seller's code %d %s %v, want 404", a.TicketID, st, b, err)
			return
		}
		mu.Lock()
		holders++
		mu.Unlock()
	})
	res.Holders = holders
	res.Verify.Problems = append(res.Verify.Problems, problems...)
	if holders != c.Listings {
		res.Verify.Problems = append(res.Verify.Problems, fmt.Sprintf("%d winners hold their ticket alone, want %d", holders, c.Listings))
	}
	return res, nil
}

// pay pays for the buyer's order with the sandbox's tok_visa; payments
// learns the order from order.created: 404 until then.
func pay(ctx context.Context, wait time.Duration, buyer client, orderID string) error {
	return waitFor(ctx, wait, "payments to know order "+orderID, func() (bool, error) {
		st, b, err := buyer.do(ctx, "POST", "/api/payments", map[string]string{"orderId": orderID, "token": "tok_visa"}, nil)
		switch {
		case err != nil:
			return false, err
		case st == http.StatusCreated:
			return true, nil
		case st == http.StatusNotFound:
			return false, nil
		}
		return false, fmt.Errorf("pay: %d %s", st, b)
	})
}

// payAndHold pays for the buyer's order with the sandbox's tok_visa
// (payments knows it from order.created: 404 until then) and waits until
// the buyer holds its ticket.
func payAndHold(ctx context.Context, wait time.Duration, buyer client, orderID, ticketID string) error {
	if err := pay(ctx, wait, buyer, orderID); err != nil {
		return err
	}
	return waitFor(ctx, wait, "ticket "+ticketID+" held by its buyer", func() (bool, error) {
		var t ticketJSON
		st, b, err := buyer.do(ctx, "GET", "/api/tickets/"+ticketID, nil, &t)
		if err != nil || st != http.StatusOK {
			return false, fmt.Errorf("read ticket: %d %s %v", st, b, err)
		}
		return t.Status == "held" && t.HeldByYou, nil
	})
}

// verifyResale reads back the buyers' orders (as verify does) and checks
// them as the on-sale's: exactly one active order per listing.
func verifyResale(ctx context.Context, c ResaleConfig, buyers []client, eventID string, answers []Answer) Verification {
	var (
		mu       sync.Mutex
		orders   []Order
		problems []string
	)
	each(c.InFlight, len(buyers), func(i int) {
		a := answers[i]
		var got []Order
		switch {
		case a.Err == nil && a.Status == http.StatusCreated:
			var o Order
			st, b, err := buyers[i].do(ctx, "GET", "/api/orders/"+a.OrderID, nil, &o)
			if err != nil || st != http.StatusOK {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("read order %s: %d %s %v", a.OrderID, st, b, err))
				mu.Unlock()
				return
			}
			got = []Order{o}
		case a.Err != nil || a.Status >= 500:
			st, b, err := buyers[i].do(ctx, "GET", "/api/orders", nil, &got)
			if err != nil || st != http.StatusOK {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("list buyer %d's orders: %d %s %v", i, st, b, err))
				mu.Unlock()
				return
			}
		}
		mu.Lock()
		orders = append(orders, got...)
		mu.Unlock()
	})
	v := Check(c.Listings, eventID, answers, orders)
	v.Problems = append(problems, v.Problems...)
	return v
}

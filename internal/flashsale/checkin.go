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
	"sync/atomic"
	"time"
)

// The check-in part of the on-sale: after the sale verified, the first
// OnSaleConfig.CheckIn winners pay (sandbox tok_visa), and once each holds
// their ticket and has read its code, the organizer, door staff of their
// own event, scans every code at InFlight at once. Each first scan must be
// admitted, and a re-scan of every RescanEvery-th code already_used.

// RescanEvery is how sparse the re-scanned sample is: every tenth code,
// and at least one.
const RescanEvery = 10

// Scan is what one POST /api/checkins got.
type Scan struct {
	Status int
	// Result is the answer's result ("admitted") of a 200, else Code is
	// the error code of the refusal.
	Result, Code string
	// Err is a transport error (Status 0).
	Err error
	// Latency is from sending to the end of the answer.
	Latency time.Duration
}

// kind names the scan's outcome: its result, else its status and code.
func (s Scan) kind() string {
	switch {
	case s.Err != nil:
		return "transport error"
	case s.Status == http.StatusOK:
		return s.Result
	}
	return strings.TrimSpace(fmt.Sprintf("%d %s", s.Status, s.Code))
}

// CheckInResult is what the check-in part measured and found.
type CheckInResult struct {
	// Tickets is how many winners were to pay and be scanned; Codes is how
	// many codes were in hand for the door.
	Tickets, Codes int
	// Prepared is from the first payment until the last code was read.
	Prepared time.Duration
	// Scans are the first scans, one a code; Elapsed is from the first
	// sent to the last answered.
	Scans   []Scan
	Elapsed time.Duration
	// Rescans are the second scans of the sample.
	Rescans []Scan
	// Problems are the checks that failed (a payment, a wait, a scan not
	// admitted, a re-scan not already_used), empty when all went right.
	Problems []string
}

// ScanStats are the figures of the first scans.
type ScanStats struct {
	Scans  int
	ByKind map[string]int
	// Lat are the sorted latencies of the scans answered (not transport
	// errors).
	Lat []time.Duration
}

// Stats sums up the first scans.
func (r *CheckInResult) Stats() ScanStats {
	s := ScanStats{ByKind: map[string]int{}}
	for _, sc := range r.Scans {
		s.Scans++
		s.ByKind[sc.kind()]++
		if sc.Err == nil {
			s.Lat = append(s.Lat, sc.Latency)
		}
	}
	slices.Sort(s.Lat)
	return s
}

// CheckScans judges the door: every first scan admitted, every re-scan
// already_used, and at least one re-scan when there were scans.
func CheckScans(scans, rescans []Scan) []string {
	var problems []string
	notAdmitted := map[string]int{}
	for _, s := range scans {
		if k := s.kind(); k != "admitted" {
			notAdmitted[k]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(notAdmitted)) {
		problems = append(problems, fmt.Sprintf("%d first scans were %s, want admitted", notAdmitted[k], k))
	}
	if len(scans) > 0 && len(rescans) == 0 {
		problems = append(problems, "no code was scanned again")
	}
	notUsed := map[string]int{}
	for _, s := range rescans {
		if k := s.kind(); k != "already_used" {
			notUsed[k]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(notUsed)) {
		problems = append(problems, fmt.Sprintf("%d re-scans were %s, want already_used", notUsed[k], k))
	}
	return problems
}

// Err is the problems as one error, nil when there are none.
func (r *CheckInResult) Err() error {
	if r == nil || len(r.Problems) == 0 {
		return nil
	}
	return errors.New("check-in failed: " + strings.Join(r.Problems, "; "))
}

// Print writes the check-in's figures and verification.
func (r *CheckInResult) Print(w io.Writer, c OnSaleConfig) {
	s := r.Stats()
	fmt.Fprintf(w, "check-in:   %d winners paid, %d codes read in %s; the organizer scans them, %d in flight\n",
		r.Tickets, r.Codes, r.Prepared.Round(time.Millisecond), c.InFlight)
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(s.Scans) / r.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "scans:      %d in %s (%.0f/s)\n", s.Scans, r.Elapsed.Round(time.Millisecond), rate)
	for _, k := range slices.Sorted(maps.Keys(s.ByKind)) {
		fmt.Fprintf(w, "  %s: %d\n", k, s.ByKind[k])
	}
	fmt.Fprintf(w, "scan:       p50 %s  p99 %s  max %s\n", Pct(s.Lat, 0.5), Pct(s.Lat, 0.99), Pct(s.Lat, 1))
	used := 0
	for _, sc := range r.Rescans {
		if sc.kind() == "already_used" {
			used++
		}
	}
	fmt.Fprintf(w, "re-scans:   %d of %d already_used\n", used, len(r.Rescans))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
}

// ticketJSON is the part of GET /api/tickets/{id} the holder waits on.
type ticketJSON struct {
	Status    string `json:"status"`
	HeldByYou bool   `json:"heldByYou"`
}

// checkIn pays for the first c.CheckIn winners' orders, reads each code
// once its buyer holds the ticket, and has the organizer scan them all.
func checkIn(ctx context.Context, c OnSaleConfig, org client, buyers []client, eventID string, answers []Answer) *CheckInResult {
	type win struct {
		buyer             client
		orderID, ticketID string
	}
	var wins []win
	for i, a := range answers {
		if len(wins) < c.CheckIn && a.Err == nil && a.Status == http.StatusCreated {
			wins = append(wins, win{buyers[i], a.OrderID, a.TicketID})
		}
	}
	r := &CheckInResult{Tickets: len(wins)}
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(r.Problems) < 20 {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		}
	}

	codes := make([]string, len(wins))
	start := time.Now()
	each(c.InFlight, len(wins), func(i int) {
		w := wins[i]
		err := pay(ctx, c.Wait, w.buyer, w.orderID)
		if err != nil {
			fail("%v", err)
			return
		}
		// The ticket is held once tickets has seen the order complete.
		err = waitFor(ctx, c.Wait, "ticket "+w.ticketID+" held by its buyer", func() (bool, error) {
			var t ticketJSON
			st, b, err := w.buyer.do(ctx, "GET", "/api/tickets/"+w.ticketID, nil, &t)
			if err != nil || st != http.StatusOK {
				return false, fmt.Errorf("read ticket: %d %s %v", st, b, err)
			}
			return t.Status == "held" && t.HeldByYou, nil
		})
		if err != nil {
			fail("%v", err)
			return
		}
		var code struct {
			Code string `json:"code"`
		}
		st, b, err := w.buyer.do(ctx, "GET", "/api/tickets/"+w.ticketID+"/code", nil, &code)
		if err != nil || st != http.StatusOK || code.Code == "" {
			fail("read the code of ticket %s: %d %s %v", w.ticketID, st, b, err)
			return
		}
		codes[i] = code.Code
	})
	r.Prepared = time.Since(start)
	codes = slices.DeleteFunc(codes, func(s string) bool { return s == "" })
	r.Codes = len(codes)
	if ctx.Err() != nil {
		fail("%v", ctx.Err())
		return r
	}

	scan := func(code string) Scan {
		t0 := time.Now()
		var out struct {
			Result string `json:"result"`
		}
		st, b, err := org.do(ctx, "POST", "/api/checkins", map[string]string{"code": code, "eventId": eventID}, &out)
		s := Scan{Status: st, Err: err, Latency: time.Since(t0)}
		if err == nil && st == http.StatusOK {
			s.Result = out.Result
		} else if err == nil {
			s.Code = errorCode(b)
		}
		return s
	}
	r.Scans = make([]Scan, len(codes))
	start = time.Now()
	each(c.InFlight, len(codes), func(i int) { r.Scans[i] = scan(codes[i]) })
	r.Elapsed = time.Since(start)

	var sample []string
	for i := 0; i < len(codes); i += RescanEvery {
		sample = append(sample, codes[i])
	}
	r.Rescans = make([]Scan, len(sample))
	each(c.InFlight, len(sample), func(i int) { r.Rescans[i] = scan(sample[i]) })
	if ctx.Err() != nil {
		fail("%v", ctx.Err())
	}
	r.Problems = append(r.Problems, CheckScans(r.Scans, r.Rescans)...)
	if r.Codes != r.Tickets {
		r.Problems = append(r.Problems, fmt.Sprintf("%d codes scanned of %d tickets paid for", r.Codes, r.Tickets))
	}
	return r
}

// each runs do(0..n-1), inFlight at a time.
func each(inFlight, n int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(inFlight, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				do(i)
			}
		})
	}
	wg.Wait()
}

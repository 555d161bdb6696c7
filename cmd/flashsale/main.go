// Command flashsale measures a flash sale against a running Ticketing
// gateway: one seller lists a few tickets, many buyers sign up, then every
// buyer tries to reserve tickets as fast as it can for a fixed time. It
// reports reservation attempts per second, the answers by status, latency
// percentiles, and checks that no ticket was reserved twice.
//
// Start the system with the auth rate limit off, then run the sale:
//
//	AUTH_RATE_PER_MINUTE=0 MAX_PENDING_ORDERS=1000000 MAX_PENDING_ORDERS_PER_ADDRESS=1000000 \
//	MAX_LISTINGS=1000000 go run ./cmd/ticketing up &
//	go run ./cmd/flashsale -url http://localhost:8080 -buyers 200 -tickets 100 -duration 10s
//
// With -browse the buyers read instead: each GETs /api/tickets/{id} of a
// random ticket of the sale as fast as it can (the read path through the
// gateway, no reservation).
//
// With -onsale it runs the primary sale of one event instead: an organizer
// creates an event of -tickets tickets (default 10,000) through
// POST /api/events, and once they are issued, -buyers buyers (default
// 20,000) each send one POST /api/orders {eventId}, -in-flight at a time
// (default 64). It reports attempts per second while tickets remained, the
// latency of winners and of losers (409 sold_out), and reads back that
// exactly -tickets orders are active, each on its own ticket. Sessions are
// minted with the system's JWT key (-jwt-key or JWT_KEY, or -jwt-key-file:
// for `up`, the data dir's jwt.key) rather than signed up. Each buyer
// names an address of its own in X-Forwarded-For, which the system
// believes from a trusted proxy (TRUSTED_PROXIES), so the hoarding bounds
// stay at their defaults; -one-address sends them all from one, which
// needs MAX_PENDING_ORDERS_PER_ADDRESS raised instead. Then the door:
// the first -checkin winners (default 1,000; 0 skips it) pay with the
// sandbox's tok_visa, read their codes once they hold their tickets, and
// the organizer scans every code at -in-flight (POST /api/checkins); it
// reports scans per second, their latency and results, and fails unless
// every first scan is admitted and every tenth code, scanned again, is
// already_used:
//
//	dir=$(mktemp -d)
//	TRUSTED_PROXIES=127.0.0.1/32 TICKETING_DATA_DIR=$dir go run ./cmd/ticketing up &
//	go run ./cmd/flashsale -url http://localhost:8080 -onsale -jwt-key-file $dir/jwt.key
//
// With -resale it runs the resale flash of issue 13 instead: an organizer
// creates an event of -tickets tickets (default 1,000), each is bought,
// paid for and listed for resale by a holder of its own, then -buyers
// buyers (default 5,000) race for the listings, -buyers/-tickets of them
// for each at once, one POST /api/orders {ticketId} each, -in-flight at a
// time. It reports attempts per second and the latency of the race, then
// has the winners pay and checks that each listing is in exactly one
// active order and that each winner holds their ticket alone (the
// seller's code is gone). Sessions and addresses as for -onsale:
//
//	go run ./cmd/flashsale -url http://localhost:8080 -resale -jwt-key-file $dir/jwt.key
//
// With -queue (or -scenario queue) it runs the waiting-room on-sale of
// issue 15 instead: an organizer creates an event of -tickets tickets
// (default 1,000) with its queue on, and once they are issued moves its
// on-sale to -join-window (default 60 s) plus 3 s ahead, inside the
// room's opening. -buyers visitors (default 100,000) join, spread evenly
// over the window, -in-flight at a time; -streams of them (default 1,000)
// hold the room's live stream open across the draw; from the on-sale every
// visitor polls their place (GET /api/events/{id}/queue) for -duration
// (default 30 s) and until each has had one; -late visitors (default 10)
// then join behind them; the places let in reserve with their admissions.
// It reports the joins, the reads (per second, p50, p99), the streams and
// the reservations, and fails on any join, read or stream not answered 200
// (a 5xx or a timeout), on a place given twice or moved, an early joiner
// behind a late one, an answer admitting a place outside the places let
// in (or not admitting one within), more shoppers past the admission check
// at once than -tickets × -admit-factor (the system's QUEUE_ADMIT_FACTOR,
// 1.5), a reservation without its own admission not refused, orders read
// back not exactly -tickets on distinct tickets, or a waiting visitor not
// told sold_out. Sessions and addresses as for -onsale (each visitor's own
// address keeps the per-address join limit, QUEUE_JOINS_PER_MINUTE, from
// biting; with -one-address start the system with QUEUE_JOINS_PER_MINUTE=0);
// -pid names the system's process, whose peak resident memory (VmHWM) is
// then reported:
//
//	go run ./cmd/flashsale -url http://localhost:8080 -scenario queue -jwt-key-file $dir/jwt.key -pid $pid
//
// -scenario names the mode as a word: sale (the default), browse,
// onsale, resale or queue.
//
// It sends traffic only to the URL it is given, and stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ticketing/ticketing/internal/flashsale"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flashsale:", err)
		os.Exit(1)
	}
}

type config struct {
	base     string
	buyers   int
	tickets  int
	duration time.Duration
	maxReqs  int
	browse   bool

	onsale     bool
	inFlight   int
	jwtKey     string
	jwtKeyFile string
	oneAddress bool
	checkIn    int
	resale     bool

	queue       bool
	joinWindow  time.Duration
	streams     int
	late        int
	admitFactor float64
	pid         int
}

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("flashsale", flag.ContinueOnError)
	fs.StringVar(&c.base, "url", "http://localhost:8080", "gateway base URL (loopback only)")
	fs.IntVar(&c.buyers, "buyers", 200, "concurrent buyers")
	fs.IntVar(&c.tickets, "tickets", 100, "tickets on sale")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long the sale runs")
	fs.IntVar(&c.maxReqs, "max-requests", 1_000_000, "stop after this many reservation attempts")
	fs.BoolVar(&c.browse, "browse", false, "read the tickets (GET /api/tickets/{id}) instead of reserving them")
	fs.BoolVar(&c.onsale, "onsale", false, "run the primary sale of one event (defaults: 10,000 tickets, 20,000 buyers)")
	fs.IntVar(&c.inFlight, "in-flight", 64, "-onsale, -resale, -queue: requests sent at once")
	fs.StringVar(&c.jwtKey, "jwt-key", os.Getenv("JWT_KEY"), "-onsale, -resale, -queue: the system's session signing key (JWT_KEY)")
	fs.StringVar(&c.jwtKeyFile, "jwt-key-file", "", "-onsale, -resale, -queue: a file holding the key, such as the data dir's jwt.key of `up`")
	fs.BoolVar(&c.oneAddress, "one-address", false, "-onsale: send every buyer from the load generator's address (by default each names its own in X-Forwarded-For, believed by a system with TRUSTED_PROXIES=127.0.0.1/32)")
	fs.IntVar(&c.checkIn, "checkin", 1000, "-onsale: after the sale verified, how many winners pay (sandbox tok_visa) and have their codes scanned by the organizer at -in-flight; every first scan must be admitted, every tenth re-scanned already_used (0: skip)")
	fs.BoolVar(&c.resale, "resale", false, "run the resale flash of one event: -tickets listed by their holders, -buyers racing for them (defaults: 1,000 and 5,000)")
	fs.BoolVar(&c.queue, "queue", false, "run the waiting-room on-sale of one event: -buyers visitors join its queue, poll their place, the places let in reserve (defaults: 1,000 tickets, 100,000 visitors, -duration 30s of polling)")
	scenario := fs.String("scenario", "", "the mode as a word: sale, browse, onsale, resale or queue")
	fs.DurationVar(&c.joinWindow, "join-window", time.Minute, "-queue: the joins are spread over this; the on-sale is at its end (+3 s)")
	fs.IntVar(&c.streams, "streams", 1000, "-queue: visitors holding the live stream (server-sent events) open across the draw")
	fs.IntVar(&c.late, "late", 10, "-queue: visitors joining after the draw, one at a time")
	fs.Float64Var(&c.admitFactor, "admit-factor", 1.5, "-queue: the system's QUEUE_ADMIT_FACTOR")
	fs.IntVar(&c.pid, "pid", 0, "-queue: the system's process id; its peak resident memory (VmHWM, /proc) is reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *scenario {
	case "", "sale":
	case "browse":
		c.browse = true
	case "onsale":
		c.onsale = true
	case "resale":
		c.resale = true
	case "queue":
		c.queue = true
	default:
		return fmt.Errorf("-scenario %q: want sale, browse, onsale, resale or queue", *scenario)
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
		return fmt.Errorf("-url %q: only a loopback address may be loaded", c.base)
	}
	if c.queue {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["tickets"] {
			c.tickets = 1_000
		}
		if !set["buyers"] {
			c.buyers = 100_000
		}
		if !set["duration"] {
			c.duration = 30 * time.Second
		}
		return queue(c, out)
	}
	if c.resale {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["tickets"] {
			c.tickets = 1_000
		}
		if !set["buyers"] {
			c.buyers = 5_000
		}
		return resale(c, out)
	}
	if c.onsale {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["tickets"] {
			c.tickets = 10_000
		}
		if !set["buyers"] {
			c.buyers = 20_000
		}
		return onSale(c, out)
	}
	res, err := sale(context.Background(), c)
	if err != nil {
		return err
	}
	res.print(out, c)
	if res.doubleSold > 0 {
		return fmt.Errorf("%d tickets were reserved by more than one order", res.doubleSold)
	}
	return nil
}

// transport is shared by every buyer: keep-alive connections, enough idle
// ones that buyers never wait to reconnect.
func transport(n int) *http.Transport {
	return &http.Transport{MaxIdleConns: n * 2, MaxIdleConnsPerHost: n * 2, IdleConnTimeout: time.Minute}
}

type user struct {
	c    *http.Client
	base string
}

func newUser(base string, tr http.RoundTripper, email string) (*user, error) {
	jar, _ := cookiejar.New(nil)
	u := &user{c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}, base: base}
	status, body, err := u.post("/api/users/signup", map[string]string{"email": email, "password": "flash-sale-password"})
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated {
		return nil, fmt.Errorf("signup %s: %d %s", email, status, body)
	}
	return u, nil
}

func (u *user) post(path string, v any) (int, []byte, error) {
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", u.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// get reads path and drops the body (read whole, so the connection is
// reused).
func (u *user) get(path string) (int, error) {
	resp, err := u.c.Get(u.base + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

type result struct {
	attempts   int
	byStatus   map[int]int
	errors     int
	latencies  []time.Duration
	losers     []time.Duration // of the 400s (the ticket was taken)
	elapsed    time.Duration
	reserved   int
	doubleSold int
}

func sale(ctx context.Context, c config) (*result, error) {
	tr := transport(c.buyers)
	run := time.Now().UnixNano()
	seller, err := newUser(c.base, tr, fmt.Sprintf("seller-%d@flash.test", run))
	if err != nil {
		return nil, err
	}
	ids := make([]string, c.tickets)
	for i := range ids {
		status, body, err := seller.post("/api/tickets", map[string]any{"title": fmt.Sprintf("Flash sale seat %d", i), "price": 25})
		if err != nil || status != http.StatusCreated {
			return nil, fmt.Errorf("list ticket: %d %s %v", status, body, err)
		}
		var t struct{ ID string }
		json.Unmarshal(body, &t)
		ids[i] = t.ID
	}
	buyers := make([]*user, c.buyers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range buyers {
		wg.Go(func() {
			b, err := newUser(c.base, tr, fmt.Sprintf("buyer-%d-%d@flash.test", run, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			buyers[i] = b
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if !c.browse {
		if err := waitForReplica(seller); err != nil {
			return nil, err
		}
	}

	res := &result{byStatus: map[int]int{}}
	winners := map[string]int{}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	start := time.Now()
	budget := make(chan struct{}, c.maxReqs)
	for range c.maxReqs {
		budget <- struct{}{}
	}
	close(budget)
	for _, b := range buyers {
		wg.Go(func() {
			var lat, lost []time.Duration
			local := map[int]int{}
			var won []string
			errs := 0
			for range budget {
				if ctx.Err() != nil {
					break
				}
				id := ids[rand.IntN(len(ids))]
				t0 := time.Now()
				var status int
				var err error
				if c.browse {
					status, err = b.get("/api/tickets/" + id)
				} else {
					status, _, err = b.post("/api/orders", map[string]string{"ticketId": id})
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					continue
				}
				local[status]++
				if status == http.StatusCreated {
					won = append(won, id)
				}
				if status == http.StatusBadRequest {
					lost = append(lost, lat[len(lat)-1])
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			res.losers = append(res.losers, lost...)
			res.errors += errs
			for s, n := range local {
				res.byStatus[s] += n
				res.attempts += n
			}
			for _, id := range won {
				winners[id]++
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.attempts += res.errors
	for _, n := range winners {
		res.reserved++
		if n > 1 {
			res.doubleSold++
		}
	}
	return res, nil
}

// waitForReplica waits until the orders service knows the sale's tickets.
// It lists one more ticket after them and has the seller reserve it until
// orders stops answering 404: the sale's ticket.created events were
// published before this one's. (A 404 during the sale is still counted.)
func waitForReplica(seller *user) error {
	status, body, err := seller.post("/api/tickets", map[string]any{"title": "Replica probe", "price": 1})
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("list probe ticket: %d %s %v", status, body, err)
	}
	var t struct{ ID string }
	json.Unmarshal(body, &t)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		status, body, err := seller.post("/api/orders", map[string]string{"ticketId": t.ID})
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusCreated:
			return nil
		case status == http.StatusBadRequest && bytes.Contains(body, []byte(`"own_ticket"`)):
			// Orders refuses the seller their own ticket once its replica
			// holds the ticket (and its seller).
			return nil
		case status == http.StatusNotFound:
			time.Sleep(20 * time.Millisecond) // polling a remote system
		default:
			return fmt.Errorf("probe reservation: %d %s", status, body)
		}
	}
	return errors.New("the orders service never learned the tickets")
}

func (r *result) print(w io.Writer, c config) {
	slices.Sort(r.latencies)
	slices.Sort(r.losers)
	pctOf := func(l []time.Duration, p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))]
	}
	pct := func(p float64) time.Duration { return pctOf(r.latencies, p) }
	if c.browse {
		fmt.Fprintf(w, "browse: %d readers, %d tickets, %s\n", c.buyers, c.tickets, r.elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "reads:      %d (%.0f/s)\n", r.attempts, float64(r.attempts)/r.elapsed.Seconds())
	} else {
		fmt.Fprintf(w, "flash sale: %d buyers, %d tickets, %s\n", c.buyers, c.tickets, r.elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "attempts:   %d (%.0f/s)\n", r.attempts, float64(r.attempts)/r.elapsed.Seconds())
	}
	for _, s := range []int{200, 201, 400, 404, 429, 500, 503} {
		if n := r.byStatus[s]; n > 0 {
			fmt.Fprintf(w, "  %d: %d\n", s, n)
		}
	}
	if r.errors > 0 {
		fmt.Fprintf(w, "  transport errors: %d\n", r.errors)
	}
	fmt.Fprintf(w, "latency:    p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
	if c.browse {
		return
	}
	fmt.Fprintf(w, "losers:     p50 %s  p99 %s (the 400s)\n", pctOf(r.losers, 0.50), pctOf(r.losers, 0.99))
	fmt.Fprintf(w, "reserved:   %d of %d tickets, reserved twice: %d\n", r.reserved, c.tickets, r.doubleSold)
}

// jwtKey is the system's session key from -jwt-key or -jwt-key-file.
func jwtKey(c config, mode string) ([]byte, error) {
	key := []byte(c.jwtKey)
	if c.jwtKeyFile != "" {
		var err error
		if key, err = flashsale.KeyFromFile(c.jwtKeyFile); err != nil {
			return nil, fmt.Errorf("-jwt-key-file: %w", err)
		}
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%s needs the system's JWT key: -jwt-key, JWT_KEY or -jwt-key-file (the data dir's jwt.key of `up`)", mode)
	}
	return key, nil
}

// resale runs the resale flash (package flashsale) and fails when its
// verification does.
func resale(c config, out io.Writer) error {
	key, err := jwtKey(c, "-resale")
	if err != nil {
		return err
	}
	rc := flashsale.ResaleConfig{Base: c.base, Key: key, Listings: c.tickets, Buyers: c.buyers, InFlight: c.inFlight, Log: os.Stderr}
	res, err := flashsale.Resale(context.Background(), rc)
	if err != nil {
		return err
	}
	res.Print(out, rc)
	return res.Verify.Err()
}

// onSale runs the on-sale scenario (package flashsale) and fails when its
// verification does.
func onSale(c config, out io.Writer) error {
	key, err := jwtKey(c, "-onsale")
	if err != nil {
		return err
	}
	oc := flashsale.OnSaleConfig{Base: c.base, Key: key, Tickets: c.tickets, Buyers: c.buyers, InFlight: c.inFlight,
		OneAddress: c.oneAddress, CheckIn: c.checkIn, Log: os.Stderr}
	res, err := flashsale.OnSale(context.Background(), oc)
	if err != nil {
		return err
	}
	res.Print(out, oc)
	return errors.Join(res.Verify.Err(), res.CheckIn.Err())
}

// queue runs the waiting-room on-sale (package flashsale) and fails when
// one of its checks does.
func queue(c config, out io.Writer) error {
	key, err := jwtKey(c, "-queue")
	if err != nil {
		return err
	}
	qc := flashsale.QueueConfig{Base: c.base, Key: key, Tickets: c.tickets, Visitors: c.buyers, JoinWindow: c.joinWindow,
		PollFor: c.duration, Streams: c.streams, Late: c.late, InFlight: c.inFlight, AdmitFactor: c.admitFactor,
		OneAddress: c.oneAddress, Log: os.Stderr}
	res, err := flashsale.Queue(context.Background(), qc)
	if err != nil {
		return err
	}
	res.Print(out, qc)
	if c.pid > 0 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
				fmt.Fprintf(out, "process %d: %s\n", c.pid, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return res.Err(qc)
}

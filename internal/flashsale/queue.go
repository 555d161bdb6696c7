package flashsale

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticketing/ticketing/internal/platform/session"
)

// The waiting-room on-sale (issue 15, DESIGN.md 9.5): an organizer's event
// of Tickets tickets with its queue on. Once the tickets are issued and
// orders knows them, the organizer moves the on-sale to JoinWindow (plus
// a little slack) ahead, inside the room's opening (onSaleAt − 30 min),
// and Visitors visitors join, spread evenly over JoinWindow, InFlight at a
// time. At onSaleAt Streams of them already hold the room's server-sent-
// event stream open, and every visitor polls their place
// (GET /api/events/{id}/queue), round robin, for PollFor and until each
// has had a place. Late visitors then join, one after another, behind
// everyone. Afterwards every place the room let in reserves
// (POST /api/orders {eventId, admission}); a few visitors still waiting
// try without an admission, and with another's; and once the count of
// tickets left settles at 0, a sample of the waiting are told sold_out.
//
// The run checks what a client can see of the room's promises: each
// visitor keeps one place, the places are 1..joined with every early
// joiner before every late one and the late ones in arrival order; each
// answer says admitted (or expired) exactly when its place is within the
// places let in, and every place let in is admitted when asked; the
// shoppers that passed the admission check never number more, at any
// moment of their admissions' lives, than the free tickets times the
// factor; exactly Tickets orders are active, each on its own ticket
// (verify, as the on-sale's); and a reservation without a valid
// admission is 403 queue_required.

// QueueConfig is one waiting-room run.
type QueueConfig struct {
	// Base is the gateway's URL; Key the session signing key.
	Base string
	Key  []byte
	// Tickets is the event's capacity; Visitors join the room.
	Tickets, Visitors int
	// JoinWindow is the time the joins are spread over.
	JoinWindow time.Duration
	// PollFor is how long the visitors poll their place from onSaleAt
	// (longer if some have not had a place by then).
	PollFor time.Duration
	// Streams is how many visitors hold the live stream open across
	// onSaleAt (0: none).
	Streams int
	// Late is how many visitors join after the draw, one at a time.
	Late int
	// InFlight is how many joins, reads and reservations are sent at once.
	InFlight int
	// AdmitFactor is the system's QUEUE_ADMIT_FACTOR (default 1.5): the
	// shoppers let in at once never exceed the free tickets times it.
	AdmitFactor float64
	// SoldOutSample is how many visitors left waiting are asked after the
	// sale, each of whom must be told sold_out (default 1,000).
	SoldOutSample int
	// OneAddress sends every visitor from the load generator's address
	// (the system then needs QUEUE_JOINS_PER_MINUTE=0); otherwise each
	// names its own in X-Forwarded-For, as in the on-sale.
	OneAddress bool
	// Wait bounds each wait on the system; 0 means 5 minutes.
	Wait time.Duration
	// Log, when set, gets a line at each step.
	Log io.Writer
}

// queueJSON is the part of GET /api/events/{id}/queue the run reads.
type queueJSON struct {
	State              string    `json:"state"`
	Joined             bool      `json:"joined"`
	Position           *int      `json:"position"`
	Length             int       `json:"length"`
	Admitted           int       `json:"admitted"`
	Admission          string    `json:"admission"`
	AdmissionExpiresAt time.Time `json:"admissionExpiresAt"`
	OnSaleAt           time.Time `json:"onSaleAt"`
	Receipt            string    `json:"receipt"`
	Seed               string    `json:"seed"`
	SeedHash           string    `json:"seedHash"`
}

// Calls counts one kind of request: the answers by status, transport
// errors (timeouts included) and the sorted latencies of the answers.
type Calls struct {
	ByStatus map[int]int
	Errors   int
	Lat      []time.Duration
	// Elapsed is the phase's length.
	Elapsed time.Duration
}

func (c *Calls) add(st int, err error, lat time.Duration) {
	if c.ByStatus == nil {
		c.ByStatus = map[int]int{}
	}
	if err != nil {
		c.Errors++
		return
	}
	c.ByStatus[st]++
	c.Lat = append(c.Lat, lat)
}

func (c *Calls) merge(o Calls) {
	for st, n := range o.ByStatus {
		if c.ByStatus == nil {
			c.ByStatus = map[int]int{}
		}
		c.ByStatus[st] += n
	}
	c.Errors += o.Errors
	c.Lat = append(c.Lat, o.Lat...)
}

// N is how many were sent.
func (c Calls) N() int {
	n := c.Errors
	for _, k := range c.ByStatus {
		n += k
	}
	return n
}

// Failed is how many were not answered 200: transport errors, timeouts
// and every other status.
func (c Calls) Failed() int { return c.N() - c.ByStatus[http.StatusOK] }

func (c Calls) print(w io.Writer, name string) {
	rate := 0.0
	if c.Elapsed > 0 {
		rate = float64(c.N()) / c.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "%-11s %d in %s (%.0f/s)  p50 %s  p99 %s  max %s\n", name+":", c.N(), c.Elapsed.Round(time.Millisecond), rate,
		Pct(c.Lat, 0.5), Pct(c.Lat, 0.99), Pct(c.Lat, 1))
	for _, st := range slices.Sorted(maps.Keys(c.ByStatus)) {
		fmt.Fprintf(w, "  %d: %d\n", st, c.ByStatus[st])
	}
	if c.Errors > 0 {
		fmt.Fprintf(w, "  transport errors and timeouts: %d\n", c.Errors)
	}
}

// StreamStats is what the live streams got.
type StreamStats struct {
	// Opened were answered 200; First got their first status event,
	// Updated at least one more; MaxOpen is how many were open at once.
	Opened, First, Updated, MaxOpen int
	ByStatus                        map[int]int
	Errors                          int
}

// QueueResult is what a waiting-room run measured and found.
type QueueResult struct {
	EventID  string
	OnSaleAt time.Time
	// Prepared is from the event's creation until its tickets were issued
	// and orders knew them.
	Prepared time.Duration
	// Joins are the visitors' joins; Early how many were answered before
	// the draw (state shuffling); Late the late joins after it.
	Joins Calls
	Early int
	Late  Calls
	// Reads are the polls from onSaleAt.
	Reads Calls
	// Streams, when any were held.
	Streams StreamStats
	// Admitted is the most places let in any answer showed; Limit the
	// tickets times the factor; MaxLive the most shoppers past the
	// admission check with a live admission at one moment.
	Admitted, Limit, MaxLive int
	// Shoppers are the admitted places' reservations (their answers);
	// Refused the probes without or with another's admission that were
	// answered 403 queue_required, of Probes.
	Shoppers        []Answer
	Probes, Refused int
	// Verify is the orders read back, as the on-sale's.
	Verify Verification
	// SoldOut is how many of the asked waiting visitors were told
	// sold_out, of Asked.
	SoldOut, Asked int
	// Draw is the read of the published draw (GET
	// /api/events/{id}/queue/joins) after the late joins: its status,
	// time, size and receipts; DrawChecked says its order was re-derived
	// from the seed and every early visitor found their receipt at
	// their place.
	// SeedHash is the hash the room published from its opening.
	SeedHash    string
	Draw        Calls
	DrawBytes   int
	DrawCount   int
	DrawChecked bool
	// Problems are the room's checks that failed.
	Problems []string
}

// visitor is one visitor and what the run saw of them.
type visitor struct {
	client
	joined, early bool
	pos           int
	admitted      bool
	firstAdmitted time.Time
	admission     string
	expires       time.Time
	receipt       string
}

// Queue runs the waiting-room on-sale of c.
func Queue(ctx context.Context, c QueueConfig) (*QueueResult, error) {
	if c.Tickets < 1 || c.Visitors < c.Tickets || c.InFlight < 1 || c.JoinWindow <= 0 {
		return nil, errors.New("queue: tickets and in-flight must be at least 1, visitors at least the tickets, and the join window positive")
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Minute
	}
	if c.AdmitFactor <= 0 {
		c.AdmitFactor = 1.5
	}
	if c.SoldOutSample <= 0 {
		c.SoldOutSample = 1000
	}
	logf := logger(c.Log)
	m := newMinter(c.Key, c.Base, c.InFlight, c.OneAddress)
	defer m.close()
	run, mint := m.run, m.mint
	org, err := mint("organizer", true)
	if err != nil {
		return nil, err
	}
	res := &QueueResult{Limit: int(math.Floor(float64(c.Tickets) * c.AdmitFactor))}
	var failMu sync.Mutex // taken after mu, never before it
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}

	// The event, on sale far enough ahead that the room is open but the
	// tickets can be issued first.
	created := time.Now()
	var ev eventJSON
	st, b, err := org.do(ctx, "POST", "/api/events", map[string]any{
		"name": fmt.Sprintf("Queued on-sale %d", run), "venue": "Flash Hall",
		"startsAt":  time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"onSaleAt":  time.Now().Add(25 * time.Minute).UTC().Format(time.RFC3339),
		"faceValue": 45, "capacity": c.Tickets, "queue": true,
	}, &ev)
	if err != nil || st != http.StatusCreated {
		return nil, fmt.Errorf("create event: %d %s %v", st, b, err)
	}
	res.EventID = ev.ID
	logf("event %s created; waiting for its %d tickets", ev.ID, c.Tickets)
	if err := waitFor(ctx, c.Wait, "the event's tickets issued", func() (bool, error) {
		var e eventJSON
		st, b, err := org.do(ctx, "GET", "/api/events/"+ev.ID, nil, &e)
		if err != nil || st != http.StatusOK {
			return false, fmt.Errorf("read event: %d %s %v", st, b, err)
		}
		return e.TicketsIssued == int64(c.Tickets), nil
	}); err != nil {
		return nil, err
	}
	if err := waitForOrders(ctx, c.Wait, org, ev.ID, queueRequired); err != nil {
		return nil, err
	}
	res.Prepared = time.Since(created)

	visitors := make([]visitor, c.Visitors)
	for i := range visitors {
		if visitors[i].client, err = mint("visitor", false); err != nil {
			return nil, err
		}
	}
	// The on-sale moves to the end of the join window.
	onSale := time.Now().Add(c.JoinWindow + 3*time.Second).UTC().Truncate(time.Millisecond)
	st, b, err = org.do(ctx, "PUT", "/api/events/"+ev.ID, map[string]any{"onSaleAt": onSale.Format(time.RFC3339Nano)}, nil)
	if err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("move the on-sale: %d %s %v", st, b, err)
	}
	res.OnSaleAt = onSale
	logf("tickets issued and known to orders after %s; %d visitors join over %s, on sale at %s",
		res.Prepared.Round(time.Millisecond), c.Visitors, c.JoinWindow, onSale.Format(time.RFC3339Nano))

	path := "/api/events/" + ev.ID + "/queue"
	var mu sync.Mutex // guards visitors' records and res
	joinStart := time.Now()
	var joins []Calls
	eachWorker(c.InFlight, c.Visitors, func(calls *Calls, i int) {
		at := joinStart.Add(time.Duration(int64(c.JoinWindow) * int64(i) / int64(c.Visitors)))
		if err := sleepUntil(ctx, at); err != nil {
			return
		}
		v := &visitors[i]
		var q queueJSON
		t0 := time.Now()
		st, _, err := v.do(ctx, "POST", path, nil, &q)
		calls.add(st, err, time.Since(t0))
		if err != nil || st != http.StatusOK {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		v.joined, v.early = true, q.State == "shuffling"
		if !q.Joined {
			fail("visitor %d's join answered joined false", i)
		}
		res.see(v, q, fail)
	}, &joins)
	for _, j := range joins {
		res.Joins.merge(j)
	}
	res.Joins.Elapsed = time.Since(joinStart)
	slices.Sort(res.Joins.Lat)
	var in []*visitor
	for i := range visitors {
		if visitors[i].joined {
			in = append(in, &visitors[i])
		}
		if visitors[i].early {
			res.Early++
		}
	}
	logf("%d joins in %s, %d before the draw; polling from the on-sale", res.Joins.N(), res.Joins.Elapsed.Round(time.Millisecond), res.Early)
	if len(in) == 0 {
		return nil, errors.New("queue: no visitor could join")
	}

	// The live streams, opened shortly before the draw so that each sees it.
	var streams sync.WaitGroup
	if c.Streams > 0 {
		if err := sleepUntil(ctx, onSale.Add(-5*time.Second)); err != nil {
			return nil, err
		}
		streams.Go(func() { res.Streams = holdStreams(ctx, c, in[:min(c.Streams, len(in))], path) })
	}

	// Polling from the on-sale, for PollFor and until everyone has a place.
	if err := sleepUntil(ctx, onSale); err != nil {
		return nil, err
	}
	var placed atomic.Int64
	for _, v := range in {
		if v.pos > 0 {
			placed.Add(1)
		}
	}
	pollStart := time.Now()
	hard := pollStart.Add(c.PollFor + c.Wait)
	var next atomic.Int64
	reads := make([]Calls, c.InFlight)
	var wg sync.WaitGroup
	for w := range c.InFlight {
		wg.Go(func() {
			calls := &reads[w]
			for ctx.Err() == nil {
				now := time.Now()
				if (now.Sub(pollStart) >= c.PollFor && placed.Load() == int64(len(in))) || now.After(hard) {
					return
				}
				v := in[int(next.Add(1)-1)%len(in)]
				var q queueJSON
				t0 := time.Now()
				st, _, err := v.do(ctx, "GET", path, nil, &q)
				calls.add(st, err, time.Since(t0))
				if err != nil || st != http.StatusOK {
					continue
				}
				mu.Lock()
				had := v.pos > 0
				res.see(v, q, fail)
				if !had && v.pos > 0 {
					placed.Add(1)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, r := range reads {
		res.Reads.merge(r)
	}
	res.Reads.Elapsed = time.Since(pollStart)
	slices.Sort(res.Reads.Lat)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p := placed.Load(); p != int64(len(in)) {
		fail("%d of %d visitors never had a place", int64(len(in))-p, len(in))
	}
	logf("%d reads in %s; %d places let in; %d late visitors join", res.Reads.N(), res.Reads.Elapsed.Round(time.Millisecond), res.Admitted, c.Late)

	// Late arrivals, one after another: each behind everyone before.
	late := make([]*visitor, 0, c.Late)
	lateStart := time.Now()
	for range c.Late {
		cl, err := mint("late", false)
		if err != nil {
			return nil, err
		}
		v := &visitor{client: cl}
		var q queueJSON
		t0 := time.Now()
		st, _, err := v.do(ctx, "POST", path, nil, &q)
		res.Late.add(st, err, time.Since(t0))
		if err != nil || st != http.StatusOK {
			continue
		}
		v.joined = true
		mu.Lock()
		res.see(v, q, fail)
		mu.Unlock()
		if v.pos == 0 {
			fail("a late visitor's join after the draw has no place (state %s)", q.State)
		}
		late = append(late, v)
	}
	res.Late.Elapsed = time.Since(lateStart)
	slices.Sort(res.Late.Lat)
	res.checkPlaces(in, late, fail)
	streams.Wait()
	res.checkDraw(ctx, client{c: org.c, base: org.base}, ev.ID, in, fail)
	logf("the draw: %d receipts, %d bytes in %s", res.DrawCount, res.DrawBytes, Pct(res.Draw.Lat, 1))

	// The places let in reserve, each asking for its admission first.
	var shoppers []*visitor
	for _, v := range in {
		if v.pos > 0 && v.pos <= res.Admitted {
			shoppers = append(shoppers, v)
		}
	}
	logf("%d admitted places reserve", len(shoppers))
	res.Shoppers = make([]Answer, len(shoppers))
	each(c.InFlight, len(shoppers), func(i int) {
		v := shoppers[i]
		var q queueJSON
		st, b, err := v.do(ctx, "GET", path, nil, &q)
		mu.Lock()
		if err == nil && st == http.StatusOK {
			res.see(v, q, fail)
		}
		tok := v.admission
		mu.Unlock()
		if err != nil || st != http.StatusOK || q.State != "admitted" {
			fail("place %d, let in, asked for its admission: %d %s %v (state %s)", v.pos, st, b, err, q.State)
		}
		body := map[string]string{"eventId": ev.ID, "admission": tok}
		start := time.Now()
		var a Answer
		// orders learns the moved on-sale from event.updated.
		werr := waitFor(ctx, c.Wait, "orders to know the on-sale", func() (bool, error) {
			a = reserve(ctx, v.client, body, start)
			return a.Err != nil || a.Code != "not_on_sale_yet", nil
		})
		if werr != nil {
			fail("place %d: %v", v.pos, werr)
		}
		res.Shoppers[i] = a
	})
	res.checkLive(shoppers, fail)

	// Visitors still waiting, without an admission and with another's.
	var waiting []*visitor
	for _, v := range in {
		if v.pos > res.Admitted {
			waiting = append(waiting, v)
		}
	}
	for i, v := range waiting[:min(5, len(waiting))] {
		bodies := []map[string]string{{"eventId": ev.ID}}
		if len(shoppers) > 0 {
			bodies = append(bodies, map[string]string{"eventId": ev.ID, "admission": shoppers[i%len(shoppers)].admission})
		}
		for _, body := range bodies {
			res.Probes++
			st, b, err := v.do(ctx, "POST", "/api/orders", body, nil)
			if err == nil && st == http.StatusForbidden && errorCode(b) == "queue_required" {
				res.Refused++
				continue
			}
			fail("place %d reserving without its own admission: %d %s %v, want 403 queue_required", v.pos, st, b, err)
		}
	}

	// The orders read back, and the count of tickets left settled at 0.
	clients := make([]client, len(shoppers))
	for i, v := range shoppers {
		clients[i] = v.client
	}
	logf("reservations done; verifying")
	res.Verify = verify(ctx, OnSaleConfig{Tickets: c.Tickets, InFlight: c.InFlight, Wait: c.Wait}, org, clients, ev.ID, res.Shoppers)

	// Sold out: the waiting are told so.
	ask := waiting[:min(c.SoldOutSample, len(waiting))]
	res.Asked = len(ask)
	var soldOut atomic.Int64
	each(c.InFlight, len(ask), func(i int) {
		v := ask[i]
		var q queueJSON
		werr := waitFor(ctx, c.Wait, "sold out told", func() (bool, error) {
			st, b, err := v.do(ctx, "GET", path, nil, &q)
			if err != nil || st != http.StatusOK {
				return false, fmt.Errorf("read place: %d %s %v", st, b, err)
			}
			return q.State == "sold_out", nil
		})
		if werr != nil {
			fail("place %d after the sale: %v (state %s)", v.pos, werr, q.State)
			return
		}
		soldOut.Add(1)
	})
	res.SoldOut = int(soldOut.Load())
	return res, nil
}

// steady checks a value every answer must carry and repeat: kept is the
// first one seen, and got may be neither missing nor different.
func steady(kept *string, got, what string, fail func(string, ...any)) {
	switch {
	case got == "":
		fail("%s is missing from an answer", what)
	case *kept == "":
		*kept = got
	case *kept != got:
		fail("%s changed from %s to %s", what, *kept, got)
	}
}

// see records one answer of v's status and checks it: one place per
// visitor, admitted (or expired) exactly when the place is among those
// let in, an admission with every admitted answer. Callers hold the lock.
func (r *QueueResult) see(v *visitor, q queueJSON, fail func(string, ...any)) {
	r.Admitted = max(r.Admitted, q.Admitted)
	steady(&v.receipt, q.Receipt, "a joined visitor's receipt", fail)
	steady(&r.SeedHash, q.SeedHash, "the open room's seed hash", fail)
	if q.Position == nil {
		if q.State == "admitted" || q.State == "expired" {
			fail("state %s without a place", q.State)
		}
		return
	}
	p := *q.Position
	switch {
	case v.pos == 0:
		v.pos = p
	case v.pos != p:
		fail("a visitor's place moved from %d to %d", v.pos, p)
	}
	if p < 1 || p > q.Length {
		fail("place %d outside 1..%d", p, q.Length)
	}
	in := q.State == "admitted" || q.State == "expired"
	if in != (p <= q.Admitted) {
		fail("place %d answered %s with %d let in", p, q.State, q.Admitted)
	}
	if q.State == "admitted" {
		if q.Admission == "" || q.AdmissionExpiresAt.IsZero() {
			fail("place %d admitted without an admission", p)
			return
		}
		if !v.admitted {
			v.admitted, v.firstAdmitted = true, time.Now()
		}
		v.admission, v.expires = q.Admission, q.AdmissionExpiresAt
	}
}

// checkPlaces checks that the places are a permutation of 1..joined, the
// early joiners ahead of everyone else, the late arrivals in the order
// they came.
func (r *QueueResult) checkPlaces(in, late []*visitor, fail func(string, ...any)) {
	all := append(slices.Clone(in), late...)
	seen := make(map[int]bool, len(all))
	maxEarly, minRest := 0, math.MaxInt
	for _, v := range all {
		if v.pos == 0 {
			continue
		}
		if seen[v.pos] {
			fail("place %d given twice", v.pos)
		}
		seen[v.pos] = true
		if v.pos > len(all) {
			fail("place %d beyond the %d who joined", v.pos, len(all))
		}
		if v.early {
			maxEarly = max(maxEarly, v.pos)
		} else {
			minRest = min(minRest, v.pos)
		}
	}
	if maxEarly > minRest {
		fail("an early joiner at place %d behind a later one at %d", maxEarly, minRest)
	}
	for i := 1; i < len(late); i++ {
		if late[i].pos <= late[i-1].pos {
			fail("late arrival %d at place %d, not behind the one before it at %d", i, late[i].pos, late[i-1].pos)
		}
	}
}

// checkLive finds the most shoppers that passed the admission check (any
// answer but 403) whose admissions were live at one moment, from when
// each was first seen admitted until its admission ran out, and checks it
// is within the limit.
func (r *QueueResult) checkLive(shoppers []*visitor, fail func(string, ...any)) {
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for i, v := range shoppers {
		a := r.Shoppers[i]
		if !v.admitted || a.Err != nil || a.Status == http.StatusForbidden {
			continue
		}
		edges = append(edges, edge{v.firstAdmitted, 1}, edge{v.expires, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d // an end before a start at the same moment
	})
	live := 0
	for _, e := range edges {
		live += e.d
		r.MaxLive = max(r.MaxLive, live)
	}
	if r.MaxLive > r.Limit {
		fail("%d shoppers past the admission check at once, more than the %d the room admits", r.MaxLive, r.Limit)
	}
}

// holdStreams opens vs' live streams at once and reads each until the
// server ends it (StreamFor, 25 s) or the wait runs out.
func holdStreams(ctx context.Context, c QueueConfig, vs []*visitor, path string) StreamStats {
	s := StreamStats{ByStatus: map[int]int{}}
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	open := 0
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Go(func() {
			cl := v.client
			cl.c = hc
			req, err := http.NewRequestWithContext(ctx, "GET", cl.base+path+"/stream", nil)
			if err != nil {
				return
			}
			req.AddCookie(&http.Cookie{Name: session.CookieName, Value: cl.token})
			if cl.addr != "" {
				req.Header.Set("X-Forwarded-For", cl.addr)
			}
			resp, err := hc.Do(req)
			mu.Lock()
			if err != nil {
				s.Errors++
				mu.Unlock()
				return
			}
			s.ByStatus[resp.StatusCode]++
			mu.Unlock()
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return
			}
			events := 0
			rd := bufio.NewReader(resp.Body)
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					break
				}
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				events++
				mu.Lock()
				switch events {
				case 1:
					s.First++
					open++
					s.MaxOpen = max(s.MaxOpen, open)
				case 2:
					s.Updated++
				}
				mu.Unlock()
			}
			mu.Lock()
			s.Opened++
			if events > 0 {
				open--
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return s
}

// eachWorker is each with a Calls of its own per worker, appended to out.
func eachWorker(inFlight, n int, do func(calls *Calls, i int), out *[]Calls) {
	w := min(inFlight, n)
	calls := make([]Calls, w)
	var next atomic.Int64
	var wg sync.WaitGroup
	for k := range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				do(&calls[k], i)
			}
		})
	}
	wg.Wait()
	*out = append(*out, calls...)
}

// sleepUntil waits until at (a schedule of the load, not a wait on the
// system) or ctx ends.
func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stats sums up the shoppers' reservations.
func (r *QueueResult) Stats() Stats { return (&OnSaleResult{Answers: r.Shoppers}).Stats() }

// Print writes the run's figures and checks.
func (r *QueueResult) Print(w io.Writer, c QueueConfig) {
	from := "an address each (X-Forwarded-For)"
	if c.OneAddress {
		from = "one address"
	}
	fmt.Fprintf(w, "waiting room: %d tickets, %d visitors from %s, %d in flight, event %s on sale at %s\n",
		c.Tickets, c.Visitors, from, c.InFlight, r.EventID, r.OnSaleAt.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "prepared:   %s (created until every ticket issued and known to orders)\n", r.Prepared.Round(time.Millisecond))
	r.Joins.print(w, "joins")
	fmt.Fprintf(w, "  before the draw: %d (window %s)\n", r.Early, c.JoinWindow)
	r.Reads.print(w, "reads")
	if c.Late > 0 {
		r.Late.print(w, "late joins")
	}
	if c.Streams > 0 {
		s := r.Streams
		fmt.Fprintf(w, "streams:    %d asked, %d answered 200, %d with a first event, %d with an update, %d open at once, %d transport errors\n",
			c.Streams, s.ByStatus[http.StatusOK], s.First, s.Updated, s.MaxOpen, s.Errors)
	}
	s := r.Stats()
	fmt.Fprintf(w, "let in:     %d places (limit %d = %d tickets × %.2g); at most %d shoppers past the check at once\n",
		r.Admitted, r.Limit, c.Tickets, c.AdmitFactor, r.MaxLive)
	fmt.Fprintf(w, "reserved:   %d attempts, %d won, %d sold_out; p50 %s  p99 %s (the 201s)\n", s.Attempts, s.Won, s.Lost,
		Pct(s.WinLat, 0.5), Pct(s.WinLat, 0.99))
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(w, "  %d: %d\n", st, s.ByStatus[st])
	}
	fmt.Fprintf(w, "no admission: %d of %d refused 403 queue_required\n", r.Refused, r.Probes)
	v := r.Verify
	fmt.Fprintf(w, "verified:   %d active orders, %d distinct tickets in them, tickets left %d\n", v.ActiveOrders, v.DistinctTickets, v.TicketsLeft)
	fmt.Fprintf(w, "sold out:   %d of %d waiting visitors asked told sold_out\n", r.SoldOut, r.Asked)
	fmt.Fprintf(w, "the draw:   %d receipts, %d bytes, read in %s (GET /api/events/{id}/queue/joins, no session); re-derived and every early visitor's receipt at their place: %v\n",
		r.DrawCount, r.DrawBytes, Pct(r.Draw.Lat, 1), r.DrawChecked)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
}

// Err fails the run: a join, read, late join or stream not answered 200
// (5xx and timeouts included), a stream without an update or not open
// (its first event received) while the others were, a reservation
// answered 5xx or lost, a probe not refused, a waiting visitor not told
// sold out, or any check of the room or of the orders.
func (r *QueueResult) Err(c QueueConfig) error {
	var p []string
	if n := r.Joins.Failed(); n > 0 {
		p = append(p, fmt.Sprintf("%d joins not answered 200", n))
	}
	if n := r.Reads.Failed(); n > 0 {
		p = append(p, fmt.Sprintf("%d reads not answered 200", n))
	}
	if n := r.Late.Failed(); n > 0 {
		p = append(p, fmt.Sprintf("%d late joins not answered 200", n))
	}
	if c.Streams > 0 {
		want := min(c.Streams, r.Joins.ByStatus[http.StatusOK])
		if s := r.Streams; s.ByStatus[http.StatusOK] != want || s.Updated != want || s.MaxOpen != want {
			p = append(p, fmt.Sprintf("%d of %d streams answered 200, %d with an update, %d open at once (each from its first event to its end)",
				s.ByStatus[http.StatusOK], want, s.Updated, s.MaxOpen))
		}
	}
	for _, a := range r.Shoppers {
		if a.Err != nil || a.Status >= 500 {
			p = append(p, "a reservation was not answered or answered 5xx")
			break
		}
	}
	if r.Refused != r.Probes {
		p = append(p, fmt.Sprintf("%d of %d reservations without an own admission refused", r.Refused, r.Probes))
	}
	if r.SoldOut != r.Asked {
		p = append(p, fmt.Sprintf("%d of %d waiting visitors told sold_out", r.SoldOut, r.Asked))
	}
	if !r.DrawChecked {
		p = append(p, "the published draw was not read or did not check out")
	}
	p = append(p, r.Problems...)
	p = append(p, r.Verify.Problems...)
	if len(p) == 0 {
		return nil
	}
	return errors.New("queue run failed: " + strings.Join(p, "; "))
}

// checkDraw reads the published draw as a stranger (no session) would,
// once, and checks it: the seed hashes to the hash the room published
// from its opening, the order is the documented shuffle of its receipts
// (re-derived here, not taken from the system's code), and it lists
// exactly the visitors placed within its length, each at their place,
// every early joiner among them. (A join sent just before the on-sale
// may be stored before the draw yet answered after it, with a place
// rather than shuffling: such a visitor is in the draw too.)
func (r *QueueResult) checkDraw(ctx context.Context, anon client, eventID string, in []*visitor, fail func(string, ...any)) {
	var d struct {
		SeedHash string   `json:"seedHash"`
		Seed     string   `json:"seed"`
		Count    int      `json:"count"`
		Order    []string `json:"order"`
	}
	t0 := time.Now()
	st, b, err := anon.do(ctx, "GET", "/api/events/"+eventID+"/queue/joins", nil, &d)
	r.Draw.add(st, err, time.Since(t0))
	r.DrawBytes, r.DrawCount = len(b), len(d.Order)
	if err != nil || st != http.StatusOK {
		fail("the draw: %d %v", st, err)
		return
	}
	seed, err := hex.DecodeString(d.Seed)
	sum := sha256.Sum256(seed)
	if err != nil || len(seed) != 32 || hex.EncodeToString(sum[:]) != d.SeedHash || d.SeedHash != r.SeedHash {
		fail("the draw's seed %q does not hash to the hash published from the opening %q", d.Seed, r.SeedHash)
		return
	}
	if d.Count != len(d.Order) || d.Count < r.Early {
		fail("the draw lists %d receipts (count %d), %d were answered before it", len(d.Order), d.Count, r.Early)
		return
	}
	if !slices.Equal(redraw([32]byte(seed), d.Order), d.Order) {
		fail("the draw's order is not the shuffle of its receipts by its seed")
		return
	}
	listed := 0
	for _, v := range in {
		switch {
		case v.early && (v.pos == 0 || v.pos > len(d.Order)):
			fail("the early visitor at place %d is not in the draw of %d", v.pos, len(d.Order))
			return
		case v.pos == 0 || v.pos > len(d.Order):
			continue
		case d.Order[v.pos-1] != v.receipt:
			fail("the visitor at place %d does not find their receipt there", v.pos)
			return
		}
		listed++
	}
	if listed != len(d.Order) {
		fail("the draw lists %d receipts, %d visitors have places within it", len(d.Order), listed)
		return
	}
	r.DrawChecked = true
}

// redraw is the waiting room's draw as docs/ARCHITECTURE.md gives it:
// the receipts sorted, then Fisher–Yates from the last place down, place
// i swapped with x mod (i+1), x the next number of the stream below
// 2⁶⁴ − (2⁶⁴ mod (i+1)); number k of the stream is the first 8 bytes
// (big-endian) of SHA-256(seed ‖ k as 8 bytes big-endian).
func redraw(seed [32]byte, receipts []string) []string {
	out := slices.Sorted(slices.Values(receipts))
	msg := make([]byte, 40)
	copy(msg, seed[:])
	var k uint64
	for i := len(out) - 1; i > 0; i-- {
		m := uint64(i + 1)
		limit := math.MaxUint64 - (math.MaxUint64%m+1)%m // 2⁶⁴ − (2⁶⁴ mod m) − 1
		var x uint64
		for {
			binary.BigEndian.PutUint64(msg[32:], k)
			k++
			h := sha256.Sum256(msg)
			if x = binary.BigEndian.Uint64(h[:8]); x <= limit {
				break
			}
		}
		j := x % m
		out[i], out[j] = out[j], out[i]
	}
	return out
}

package tickets

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
	"pgregory.net/rapid"
)

// The invariants of a ticket's codes (DESIGN.md 9.2-9.3, issue 13): at
// any moment a ticket has exactly one valid code (none once void), held by
// its current holder, and it is admitted at most once, only ever with the
// code of the holder at that moment. TestInvariantCodes drives random
// sequences of resale actions concurrently and checks them; run it longer
// with, for example,
//
//	go test ./internal/tickets/ -run TestInvariantCodes -rapid.checks=500
//
// (or RAPID_CHECKS=500); without either it runs invariantChecks checks per
// engine, a few seconds under -race.

// invariantChecks is how many random runs TestInvariantCodes makes on each
// engine unless -rapid.checks or RAPID_CHECKS says otherwise.
var invariantChecks = map[sqldb.Engine]int{sqldb.SQLite: 20, sqldb.Postgres: 30}

// invStats counts, over a test's runs, what the runs did, so a test that
// passes shows it got somewhere (resales paid, admissions, refusals).
type invStats struct {
	resold, offered, transferred, admitted, beingResold, voidScans, refused, cancelledEvents atomic.Int64
}

func (st *invStats) String() string {
	return fmt.Sprintf("%d resales paid, %d transfers offered and %d accepted, %d admissions, %d being_resold and %d void scans, %d orders refused, %d events cancelled",
		st.resold.Load(), st.offered.Load(), st.transferred.Load(), st.admitted.Load(), st.beingResold.Load(), st.voidScans.Load(), st.refused.Load(), st.cancelledEvents.Load())
}

// invUsers hold, sell and buy the tickets of the property test.
var invUsers = []string{"inv-ann", "inv-bob", "inv-cat", "inv-dan"}

// invCap is resaleShow's resale cap: 110% of 45.00.
const invCap money.Cents = 4950

// action is one step a worker of the property test takes. Ticket, User
// and N pick among what exists when it runs (modulo its count), so a plan
// drawn before the run fits whatever the run has made.
type action struct {
	Kind   string
	Ticket int
	User   int
	N      int
}

// actionKinds are the actions a worker draws, the ones wanted most
// first: rapid draws small indexes somewhat more often than large ones
// (and an index from a wide range, as weights would need, hardly ever
// reaches the end). Cancelling the event is drawn apart, once a run at
// most, as it ends most of the story. resell is list, reserve and pay in
// a row by one worker (the others still act meanwhile), as a resale takes
// three steps that single actions seldom line up.
var actionKinds = []string{"resell", "transfer", "accept", "reserve", "pay", "list", "checkin",
	"redeliver", "withdraw", "expire", "code", "cancel_transfer"}

func actionGen() *rapid.Generator[action] {
	return rapid.Custom(func(t *rapid.T) action {
		return action{
			Kind:   rapid.SampledFrom(actionKinds).Draw(t, "kind"),
			Ticket: rapid.IntRange(0, 2).Draw(t, "ticket"),
			User:   rapid.IntRange(0, len(invUsers)-1).Draw(t, "user"),
			N:      rapid.IntRange(0, 5).Draw(t, "n"),
		}
	})
}

// issuedCode is a code the test was given by Service.Code: Seq orders it
// among the test's records and scans (it was issued before Seq).
type issuedCode struct {
	Ticket  string
	Version int64
	Holder  string
	Full    string
	Short   string
	Seq     int64
}

// admission is a scan the door answered admitted.
type admission struct {
	Ticket  string
	Version int64
	Holder  string
}

// invOrder is the test's stand-in for an order of the orders service: it
// publishes order.created, order.completed and order.cancelled as orders
// would (one open order a ticket; paid or cancelled, never both; a
// refusal cancels it, or refunds it if paid).
type invOrder struct {
	ID     string
	Ticket string
	Buyer  string
	// State is pending, paid, cancelled or refunded (paid, then refused
	// by tickets: the buyer gets the money back).
	State string
	// Sold is set once its order.completed made the buyer the holder.
	Sold bool
	// Created is its order.created, for deliveries again.
	Created events.OrderCreated
	// created closes once tickets has answered order.created (held or
	// refused); done once the order's last event has been applied.
	created, done chan struct{}
}

// invRun is one run of the property test: one event and its tickets.
type invRun struct {
	s       *Service
	db      *sqldb.DB
	stats   *invStats
	ev      events.EventState
	tickets []string
	seq     atomic.Int64

	mu         sync.Mutex
	codes      []issuedCode
	byVersion  map[string]map[int64]string // ticket → code version → holder
	admissions []admission
	open       map[string]*invOrder   // ticket → its pending order
	orders     map[string][]*invOrder // ticket → every order of it
	transfers  map[string][]Transfer  // ticket → every transfer of it
	cancelled  bool
	failures   []string
}

func (r *invRun) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failLocked(fmt.Sprintf(format, args...))
}

// failLocked records a broken invariant once, with r.mu held.
func (r *invRun) failLocked(msg string) {
	if !slices.Contains(r.failures, msg) {
		r.failures = append(r.failures, msg)
	}
}

// expected reports whether err is an answer a user could get (a fault:
// not theirs, reserved, void, over the cap, changed meanwhile...), not a
// failure of the service.
func expected(err error) bool {
	var fe *fault.Error
	return err == nil || errors.As(err, &fe)
}

// isEarly reports whether a listener's error asks the bus to redeliver the
// message later (natsbus.Early).
func isEarly(err error) bool {
	var e interface{ EarlyMessage() bool }
	return errors.As(err, &e) && e.EarlyMessage()
}

// record asks tickets for the code of ticketID's current holder and keeps
// it. Two holders given one code version is a broken invariant at once.
func (r *invRun) record(ctx context.Context, ticketID string) {
	tk, err := r.s.Get(ctx, ticketID)
	if err != nil {
		r.fail("get %s: %v", ticketID, err)
		return
	}
	if tk.HolderID == "" {
		return
	}
	r.recordFor(ctx, tk.HolderID, ticketID)
}

func (r *invRun) recordFor(ctx context.Context, userID, ticketID string) {
	c, err := r.s.Code(ctx, userID, ticketID)
	switch {
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrTicketVoid):
		return // not (or no longer) theirs, or void
	case err != nil:
		r.fail("code of %s for %s: %v", ticketID, userID, err)
		return
	}
	seq := r.seq.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.byVersion[ticketID]
	if vs == nil {
		vs = map[int64]string{}
		r.byVersion[ticketID] = vs
	}
	if h, ok := vs[c.CodeVersion]; ok {
		if h != userID {
			r.failLocked(fmt.Sprintf("ticket %s code version %d given to %s and to %s", ticketID, c.CodeVersion, h, userID))
		}
		return
	}
	vs[c.CodeVersion] = userID
	r.codes = append(r.codes, issuedCode{Ticket: ticketID, Version: c.CodeVersion, Holder: userID, Full: c.Code, Short: c.Short, Seq: seq})
}

// scan checks code in at the event's door and checks the answer against
// every code recorded before the scan began: a code superseded by then
// must be void.
func (r *invRun) scan(ctx context.Context, c issuedCode, short bool) Result {
	start := r.seq.Add(1)
	text := c.Full
	if short {
		text = c.Short
	}
	got, err := r.s.CheckInCode(ctx, doorStaff, text, r.ev.ID)
	if err != nil {
		r.fail("check-in of %s v%d: %v", c.Ticket, c.Version, err)
		return ""
	}
	if got.TicketID != c.Ticket {
		r.fail("check-in of %s v%d answered for ticket %q: %+v", c.Ticket, c.Version, got.TicketID, got)
	}
	switch got.Result {
	case ResultAdmitted:
		r.stats.admitted.Add(1)
	case ResultBeingResold:
		r.stats.beingResold.Add(1)
	case ResultVoid:
		r.stats.voidScans.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch got.Result {
	case ResultAdmitted, ResultAlreadyUsed, ResultBeingResold:
		for _, o := range r.codes {
			if o.Ticket == c.Ticket && o.Version > c.Version && o.Seq < start {
				r.failLocked(fmt.Sprintf("ticket %s: code v%d of %s answered %s after v%d was issued to %s",
					c.Ticket, c.Version, c.Holder, got.Result, o.Version, o.Holder))
			}
		}
		if got.Result == ResultAdmitted {
			r.admissions = append(r.admissions, admission{Ticket: c.Ticket, Version: c.Version, Holder: c.Holder})
		}
	case ResultVoid:
	default:
		r.failLocked(fmt.Sprintf("ticket %s v%d at its own door: %s", c.Ticket, c.Version, got.Result))
	}
	return got.Result
}

// refusedReason is tickets' refusal of orderID, "" if it was not refused.
func (r *invRun) refusedReason(ctx context.Context, orderID string) string {
	var reason string
	err := r.db.Read().QueryRowContext(ctx, `SELECT reason FROM refused_orders WHERE order_id = $1`, orderID).Scan(&reason)
	if err != nil && !errors.Is(sqldb.Err(err), sqldb.ErrNotFound) {
		r.fail("refusal of %s: %v", orderID, err)
	}
	return reason
}

// reserve is a buyer ordering the ticket: order.created as orders would
// publish it from its replica (the version and price it saw), delivered
// as the listener would be, again while early.
func (r *invRun) reserve(ctx context.Context, ticketID, buyer string) {
	tk, err := r.s.Get(ctx, ticketID)
	if err != nil {
		r.fail("get %s: %v", ticketID, err)
		return
	}
	if !tk.Listed() || tk.Status != StatusOnSale || tk.HolderID == buyer {
		return // orders would not take it: not on sale, or the buyer's own
	}
	r.mu.Lock()
	if r.open[ticketID] != nil || r.unanswered(ticketID) {
		r.mu.Unlock()
		return
	}
	o := &invOrder{ID: uuid.NewString(), Ticket: ticketID, Buyer: buyer, State: "pending",
		created: make(chan struct{}), done: make(chan struct{})}
	v := tk.Version
	o.Created = events.OrderCreated{ID: o.ID, Status: events.StatusCreated, UserID: buyer,
		Ticket: events.OrderTicket{ID: ticketID, Price: int64(tk.Price), Version: &v}}
	before := slices.Clone(r.orders[ticketID])
	r.open[ticketID] = o
	r.orders[ticketID] = append(r.orders[ticketID], o)
	r.mu.Unlock()

	ev := o.Created
	err = r.s.onOrderCreated(ctx, ev)
	if isEarly(err) {
		// Another order holds the ticket: orders made this one only
		// after that one ended, so its last event is on its way.
		for _, b := range before {
			<-b.done
		}
		err = r.s.onOrderCreated(ctx, ev)
	}
	if err != nil {
		r.fail("order.created %s: %v", o.ID, err)
	}
	if reason := r.refusedReason(ctx, o.ID); reason != "" {
		r.stats.refused.Add(1)
		// orders.Refuse: a pending order is cancelled (order.cancelled),
		// a paid one refunded.
		r.mu.Lock()
		state := o.State
		switch state {
		case "pending":
			o.State = "cancelled"
		case "paid":
			o.State = "refunded"
		}
		if r.open[ticketID] == o {
			delete(r.open, ticketID)
		}
		r.mu.Unlock()
		if state == "pending" {
			if err := r.s.onOrderCancelled(ctx, events.OrderCancelled{ID: o.ID, Ticket: events.OrderTicket{ID: ticketID}, CancelledBy: reason}); err != nil {
				r.fail("order.cancelled %s after refusal: %v", o.ID, err)
			}
			close(o.done)
		}
	}
	close(o.created)
}

// unanswered reports whether an order of ticketID still waits for
// tickets' answer to its order.created. Orders would then still see the
// ticket on sale in its replica and, once that order is paid (its unpaid
// unique index no longer holds), could take a second order; whichever
// order.created tickets applies second is early until the first order
// ends (then refused, or reserved), which the model, redelivering an
// early message once after the orders before it, does not wait for. Call
// with r.mu held.
func (r *invRun) unanswered(ticketID string) bool {
	for _, o := range r.orders[ticketID] {
		select {
		case <-o.created:
		default:
			return true
		}
	}
	return false
}

// end takes the ticket's pending order to paid or cancelled, as orders
// would on payment.created or its expiry, and delivers the event.
func (r *invRun) end(ctx context.Context, ticketID string, pay bool) {
	r.mu.Lock()
	o := r.open[ticketID]
	if o == nil || o.State != "pending" {
		r.mu.Unlock()
		return
	}
	delete(r.open, ticketID)
	if !pay {
		o.State = "cancelled"
		r.mu.Unlock()
		if err := r.s.onOrderCancelled(ctx, events.OrderCancelled{ID: o.ID, Ticket: events.OrderTicket{ID: ticketID}, CancelledBy: events.CancelledByExpiry}); err != nil {
			r.fail("order.cancelled %s: %v", o.ID, err)
		}
		close(o.done)
		return
	}
	o.State = "paid"
	r.mu.Unlock()
	ev := events.OrderCompleted{ID: o.ID, UserID: o.Buyer, Ticket: events.OrderTicket{ID: ticketID}}
	err := r.s.onOrderCompleted(ctx, ev)
	if isEarly(err) {
		// order.completed overtook order.created: redelivered once
		// tickets has answered that.
		<-o.created
		err = r.s.onOrderCompleted(ctx, ev)
	}
	if err != nil {
		r.fail("order.completed %s: %v", o.ID, err)
	}
	close(o.done)
	if tk, err := r.s.Get(ctx, ticketID); err == nil && tk.OrderID == o.ID && tk.HolderID == o.Buyer {
		r.stats.resold.Add(1)
		r.mu.Lock()
		o.Sold = true
		r.mu.Unlock()
	}
	r.record(ctx, ticketID)
}

// redeliver delivers the n-th order of ticketID's events again, as the bus
// may (at least once): its order.created, and its order.completed if it
// was paid. They must change nothing; above all an order whose sale was
// applied must not be refused (orders would refund a buyer who got the
// ticket).
func (r *invRun) redeliver(ctx context.Context, ticketID string, n int) {
	r.mu.Lock()
	os := r.orders[ticketID]
	if len(os) == 0 {
		r.mu.Unlock()
		return
	}
	o := os[n%len(os)]
	paid := o.State == "paid" || o.State == "refunded"
	r.mu.Unlock()
	select {
	case <-o.created:
	default:
		return // its first delivery is still under way
	}
	if err := r.s.onOrderCreated(ctx, o.Created); err != nil && !isEarly(err) {
		r.fail("order.created %s again: %v", o.ID, err)
	}
	if paid {
		<-o.done
		ev := events.OrderCompleted{ID: o.ID, UserID: o.Buyer, Ticket: events.OrderTicket{ID: ticketID}}
		if err := r.s.onOrderCompleted(ctx, ev); err != nil {
			r.fail("order.completed %s again: %v", o.ID, err)
		}
	}
	r.mu.Lock()
	sold := o.Sold
	r.mu.Unlock()
	if reason := r.refusedReason(ctx, o.ID); sold && reason != "" {
		r.fail("order %s, whose sale was applied, refused (%s) on a delivery again: orders would refund its buyer", o.ID, reason)
	}
}

// cancelEvent is the organizer cancelling the event: event.cancelled as
// tickets' listener applies it (tickets first, then the door's replica).
func (r *invRun) cancelEvent(ctx context.Context) {
	r.mu.Lock()
	if r.cancelled {
		r.mu.Unlock()
		return
	}
	r.cancelled = true
	r.mu.Unlock()
	r.stats.cancelledEvents.Add(1)
	ev := r.ev
	ev.Version, ev.Status = 1, events.EventStatusCancelled
	if err := r.s.onEventCancelled(ctx, events.EventCancelled{EventState: ev}); err != nil {
		r.fail("event.cancelled: %v", err)
	}
}

func (r *invRun) do(ctx context.Context, a action) {
	ticketID := r.tickets[a.Ticket%len(r.tickets)]
	user := invUsers[a.User]
	switch a.Kind {
	case "resell":
		r.do(ctx, action{Kind: "list", Ticket: a.Ticket, User: a.User, N: a.N % 4})
		r.reserve(ctx, ticketID, user)
		r.end(ctx, ticketID, true)
	case "list":
		tk, err := r.s.Get(ctx, ticketID)
		if err != nil {
			r.fail("get %s: %v", ticketID, err)
			return
		}
		seller := tk.HolderID
		if seller == "" || a.N == 5 {
			seller = user // mostly not theirs: refused
		}
		price := []money.Cents{invCap, invCap - 500, 4000, 3000, invCap + 1, invCap}[a.N]
		_, err = r.s.ListForResale(ctx, seller, ticketID, price)
		if err == nil && price > invCap {
			r.fail("ticket %s listed at %s, above the cap %s", ticketID, price, invCap)
		}
		if !expected(err) {
			r.fail("list %s: %v", ticketID, err)
		}
	case "withdraw":
		tk, err := r.s.Get(ctx, ticketID)
		if err != nil {
			r.fail("get %s: %v", ticketID, err)
			return
		}
		if err := r.s.Unlist(ctx, tk.HolderID, ticketID); !expected(err) {
			r.fail("withdraw %s: %v", ticketID, err)
		}
	case "reserve":
		r.reserve(ctx, ticketID, user)
	case "expire":
		r.end(ctx, ticketID, false)
	case "pay":
		r.end(ctx, ticketID, true)
	case "checkin":
		r.mu.Lock()
		n := len(r.codes)
		var c issuedCode
		if n > 0 {
			c = r.codes[(a.User*6+a.N)%n]
		}
		r.mu.Unlock()
		if n > 0 {
			r.scan(ctx, c, a.N%2 == 1)
		}
	case "code":
		r.recordFor(ctx, user, ticketID)
	case "redeliver":
		r.redeliver(ctx, ticketID, a.N)
	case "transfer":
		tk, err := r.s.Get(ctx, ticketID)
		if err != nil {
			r.fail("get %s: %v", ticketID, err)
			return
		}
		tr, err := r.s.StartTransfer(ctx, invUser(tk.HolderID), ticketID, invUser(user).Email)
		if !expected(err) {
			r.fail("transfer %s: %v", ticketID, err)
		}
		if err == nil {
			r.stats.offered.Add(1)
			r.mu.Lock()
			r.transfers[ticketID] = append(r.transfers[ticketID], tr)
			r.mu.Unlock()
		}
	case "accept", "cancel_transfer":
		r.mu.Lock()
		trs := r.transfers[ticketID]
		var tr Transfer
		if len(trs) > 0 {
			tr = trs[a.N%len(trs)]
		}
		r.mu.Unlock()
		if tr.ID == "" {
			return
		}
		var err error
		if a.Kind == "accept" {
			recipient := strings.TrimSuffix(tr.ToEmail, "@example.com")
			if a.N == 5 {
				recipient = user // mostly not theirs: not found
			}
			_, err = r.s.AcceptTransfer(ctx, invUser(recipient), tr.ID)
			if err == nil {
				r.stats.transferred.Add(1)
			}
		} else {
			err = r.s.CancelTransfer(ctx, tr.FromUserID, tr.ID)
		}
		if !expected(err) {
			r.fail("%s %s: %v", a.Kind, tr.ID, err)
		}
	case "cancel_event":
		r.cancelEvent(ctx)
	}
	r.record(ctx, ticketID)
}

// setUp issues the run's event and sells each ticket to the holder drawn
// for it, as a primary sale does (order.created, order.completed).
func (r *invRun) setUp(ctx context.Context, holders []int) error {
	if err := r.s.onEventCreated(ctx, events.EventCreated{EventState: r.ev}); err != nil {
		return err
	}
	for i, h := range holders {
		id := seatID(r.ev.ID, i)
		r.tickets = append(r.tickets, id)
		tk, err := r.s.Get(ctx, id)
		if err != nil {
			return err
		}
		order, v := uuid.NewString(), tk.Version
		err = r.s.onOrderCreated(ctx, events.OrderCreated{ID: order, UserID: invUsers[h],
			Ticket: events.OrderTicket{ID: id, Price: int64(tk.Price), Version: &v}})
		if err != nil {
			return err
		}
		if err := r.s.onOrderCompleted(ctx, events.OrderCompleted{ID: order, UserID: invUsers[h], Ticket: events.OrderTicket{ID: id}}); err != nil {
			return err
		}
		r.record(ctx, id)
	}
	return nil
}

// check is the end of a run: pending orders expire, every code ever
// issued is scanned at the door, and the answers, the admissions and the
// tickets as they ended must agree with one valid code a ticket.
func (r *invRun) check(ctx context.Context) {
	for _, id := range r.tickets {
		r.end(ctx, id, false)
		r.record(ctx, id)
	}
	final := map[string]Ticket{}
	for _, id := range r.tickets {
		tk, err := r.s.Get(ctx, id)
		if err != nil {
			r.fail("get %s: %v", id, err)
			return
		}
		final[id] = tk
	}
	runAdmissions := slices.Clone(r.admissions)
	codes := slices.Clone(r.codes)
	slices.SortFunc(codes, func(a, b issuedCode) int {
		if a.Ticket != b.Ticket {
			return strings.Compare(a.Ticket, b.Ticket)
		}
		return int(a.Version - b.Version)
	})
	for _, id := range r.tickets {
		f := final[id]
		valid := !r.cancelled && (f.Status == StatusHeld || f.Listed())
		if f.Status == StatusReserved {
			r.fail("ticket %s still reserved after every order ended: %+v", id, f)
		}
		current := false
		for _, c := range codes {
			if c.Ticket != id {
				continue
			}
			isCurrent := valid && c.Version == f.CodeVersion
			current = current || isCurrent
			if isCurrent && c.Holder != f.HolderID {
				r.fail("ticket %s: the current code v%d was given to %s, but %s holds it", id, c.Version, c.Holder, f.HolderID)
			}
			for _, short := range []bool{false, true} {
				got := r.scan(ctx, c, short)
				ok := got == ResultVoid
				if isCurrent {
					ok = got == ResultAdmitted || got == ResultAlreadyUsed
				}
				if !ok {
					r.fail("ticket %s (%s, v%d, held by %s): code v%d of %s (short %v) at the door = %s",
						id, f.Status, f.CodeVersion, f.HolderID, c.Version, c.Holder, short, got)
				}
			}
		}
		if valid && !current {
			r.fail("ticket %s is %s, held by %s at v%d, but its holder was never given that code", id, f.Status, f.HolderID, f.CodeVersion)
		}
	}
	// At most one admission a ticket, over the run and the final scan.
	count := map[string]int{}
	for _, a := range r.admissions {
		count[a.Ticket]++
		if count[a.Ticket] > 1 {
			r.fail("ticket %s admitted more than once: %+v", a.Ticket, r.admissions)
		}
	}
	// An admission during the run was the holder's code then, and nobody
	// held the ticket after them: the ticket ended theirs, at that code
	// (or the next, if the event's cancellation voided it).
	for _, a := range runAdmissions {
		f := final[a.Ticket]
		sameCode := f.CodeVersion == a.Version || (r.cancelled && f.Status == StatusVoid && f.CodeVersion == a.Version+1)
		if f.HolderID != a.Holder || !sameCode {
			r.fail("ticket %s admitted with %s's code v%d, but it ended %s, held by %s at v%d", a.Ticket, a.Holder, a.Version,
				f.Status, f.HolderID, f.CodeVersion)
		}
	}
	// The ticket's history agrees: each code given out is the entry of
	// its holder (an admitted code among them).
	history := map[issuedCode]bool{}
	hrows, err := r.db.Read().QueryContext(ctx, `SELECT h.ticket_id, h.code_version, h.holder_id FROM ticket_history h
		JOIN tickets t ON t.id = h.ticket_id WHERE t.event_id = $1`, r.ev.ID)
	if err != nil {
		r.fail("history: %v", err)
		return
	}
	for hrows.Next() {
		var e issuedCode
		if err := hrows.Scan(&e.Ticket, &e.Version, &e.Holder); err != nil {
			r.fail("history: %v", err)
		}
		history[e] = true
	}
	hrows.Close()
	for _, c := range codes {
		if !history[issuedCode{Ticket: c.Ticket, Version: c.Version, Holder: c.Holder}] {
			r.fail("ticket %s: code v%d was given to %s, but the history has no such entry", c.Ticket, c.Version, c.Holder)
		}
	}
	// The door's own records agree: one row a ticket admitted, at the
	// admitted code.
	rows, err := r.db.Read().QueryContext(ctx, `SELECT ticket_id, code_version FROM checkins WHERE event_id = $1`, r.ev.ID)
	if err != nil {
		r.fail("check-ins: %v", err)
		return
	}
	defer rows.Close()
	seen := map[string]int64{}
	for rows.Next() {
		var (
			id string
			v  int64
		)
		if err := rows.Scan(&id, &v); err != nil {
			r.fail("check-ins: %v", err)
			return
		}
		seen[id] = v
	}
	if err := rows.Err(); err != nil {
		r.fail("check-ins: %v", err)
	}
	for _, a := range r.admissions {
		if v, ok := seen[a.Ticket]; !ok || v != a.Version {
			r.fail("ticket %s admitted at v%d, but the check-in row says v%d (found %v)", a.Ticket, a.Version, v, ok)
		}
	}
	if len(seen) != len(count) {
		r.fail("%d check-in rows for %d admitted tickets", len(seen), len(count))
	}
}

// invUser is the session of the property test's user id ("" for nobody).
func invUser(id string) session.User {
	if id == "" {
		return session.User{}
	}
	return session.User{ID: id, Email: id + "@example.com"}
}

// withRapidChecks sets rapid's number of checks to n unless the one
// running the tests chose it (-rapid.checks or RAPID_CHECKS), and
// returns the function that puts it back.
func withRapidChecks(tb testing.TB, n int) func() {
	tb.Helper()
	chosen := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rapid.checks" {
			chosen = true
		}
	})
	f := flag.Lookup("rapid.checks")
	if chosen || f == nil {
		return func() {}
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		tb.Fatal(err)
	}
	return func() { _ = f.Value.Set(old) }
}

// TestInvariantCodes: random sequences of list, withdraw, reserve,
// expire, pay, check-in (with any code a user was ever given), code and
// cancel-event, run by three workers at once on a small event, never give
// a ticket two valid codes, a valid code to anyone but its holder, or two
// admissions; see the top of this file for running it longer.
func TestInvariantCodes(t *testing.T) {
	for _, engine := range sqldbtest.Engines(t) {
		t.Run(engine.String(), func(t *testing.T) {
			db := sqldbtest.Open(t, engine, migs...)
			s := newTestService(t, db)
			defer withRapidChecks(t, invariantChecks[engine])()
			stats := &invStats{}
			defer func() { t.Logf("over every run: %s", stats) }()
			rapid.Check(t, func(rt *rapid.T) {
				ctx := context.Background()
				n := rapid.IntRange(1, 3).Draw(rt, "tickets")
				holders := rapid.SliceOfN(rapid.IntRange(0, len(invUsers)-1), n, n).Draw(rt, "holders")
				var plans [][]action
				for w := range 3 {
					plans = append(plans, rapid.SliceOfN(actionGen(), 4, 16).Draw(rt, fmt.Sprintf("worker%d", w)))
				}
				if rapid.IntRange(0, 3).Draw(rt, "cancel the event (1)") == 1 {
					at := rapid.IntRange(0, len(plans[2])).Draw(rt, "cancel at")
					plans[2] = slices.Insert(plans[2], at, action{Kind: "cancel_event"})
				}
				ev := resaleShow(uuid.NewString(), n)
				ev.Transfers = true
				r := &invRun{s: s, db: db, ev: ev, stats: stats, byVersion: map[string]map[int64]string{},
					open: map[string]*invOrder{}, orders: map[string][]*invOrder{}, transfers: map[string][]Transfer{}}
				if err := r.setUp(ctx, holders); err != nil {
					rt.Fatalf("set up: %v", err)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for _, plan := range plans {
					wg.Go(func() {
						<-start
						for _, a := range plan {
							r.do(ctx, a)
						}
					})
				}
				close(start)
				wg.Wait()
				r.check(ctx)
				if len(r.failures) > 0 {
					rt.Fatalf("%d broken invariants:\n%s", len(r.failures), joinLines(r.failures))
				}
			})
		})
	}
}

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += "  " + l + "\n"
	}
	return out
}

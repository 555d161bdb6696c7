package orders

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults for how long a reservation of a ticket the replica has never
// seen waits for it (Config.CatchUp, Config.CatchUpPoll).
const (
	DefaultCatchUp     = 2 * time.Second
	DefaultCatchUpPoll = 50 * time.Millisecond
)

// catchUpPollMax bounds the doubling poll interval: a replica written by
// another process (replicas of orders share the database) is seen within it.
const catchUpPollMax = 400 * time.Millisecond

// arrivals wakes the reservations waiting for a ticket the replica has not
// seen yet: AddTicket, once its transaction has committed, closes the
// ticket's channel. A ticket nobody waits for costs one map lookup under
// the lock; the map only holds ids someone is waiting for, and a waiter
// that gives up removes its id, so unknown ids cannot make it grow.
type arrivals struct {
	mu      sync.Mutex
	waiting map[string]*arrival
}

type arrival struct {
	ch chan struct{}
	n  int // waiters
}

// watch returns a channel closed when ticketID arrives, and the function
// to call when no longer waiting.
func (a *arrivals) watch(ticketID string) (<-chan struct{}, func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waiting == nil {
		a.waiting = map[string]*arrival{}
	}
	w := a.waiting[ticketID]
	if w == nil {
		w = &arrival{ch: make(chan struct{})}
		a.waiting[ticketID] = w
	}
	w.n++
	return w.ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		w.n--
		if w.n == 0 && a.waiting[ticketID] == w {
			delete(a.waiting, ticketID)
		}
	}
}

// arrived wakes whoever waits for ticketID.
func (a *arrivals) arrived(ticketID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.waiting[ticketID]; w != nil {
		close(w.ch)
		delete(a.waiting, ticketID)
	}
}

// awaitTicket is peek again, for a ticket peek did not find, until it
// finds it or CatchUp has passed: a ticket created a moment ago reaches
// the replica through ticket.created, usually within milliseconds, so a
// buyer who reserves it at once is not told 404 for a ticket they just
// saw. It holds no transaction and never takes the writer: it waits on
// AddTicket's signal in this process and, for a replica another process
// of orders writes, polls the read pool at a doubling interval. The
// request's context bounds it too. A ticket still unknown after the bound
// is ErrTicketNotFound.
func (s *Service) awaitTicket(ctx context.Context, ticketID string, peek func() error) error {
	arrived, done := s.arrivals.watch(ticketID)
	defer done()
	deadline := time.NewTimer(s.cfg.CatchUp)
	defer deadline.Stop()
	poll := s.cfg.CatchUpPoll
	tick := time.NewTimer(0) // look once more at once: it may have arrived before watch
	defer tick.Stop()
	for {
		select {
		case <-arrived:
			return peek()
		case <-tick.C:
			err := peek()
			if ctx.Err() != nil {
				// The caller left during the look: its wait is over,
				// as below, whatever the look's context error says.
				return ErrTicketNotFound
			}
			if !errors.Is(err, ErrTicketNotFound) {
				return err
			}
			tick.Reset(poll)
			poll = min(2*poll, catchUpPollMax)
		case <-deadline.C:
			return ErrTicketNotFound
		case <-ctx.Done():
			return ErrTicketNotFound
		}
	}
}

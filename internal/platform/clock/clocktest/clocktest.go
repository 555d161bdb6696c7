// Package clocktest is the fake clock tests inject where a service takes a
// Now func() time.Time: time moves only when the test says so, so a test
// of an expiry, a rate limit or a lease waits for nothing.
package clocktest

import (
	"sync"
	"time"
)

// Start is a clock's first reading unless a test picks another.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock, safe for concurrent use: it reads the same time
// until Advance moves it, or, made with Stepping, moves on by a fixed step
// after every reading.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// New returns a clock standing still at start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Stepping returns a clock that reads start first and step later at each
// reading after, so rows stamped one after the other have distinct,
// ordered times.
func Stepping(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now returns the clock's time; pass it as a Config's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

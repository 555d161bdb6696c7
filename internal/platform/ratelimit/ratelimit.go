// Package ratelimit is the per-key token bucket every per-address limit
// shares (auth's sign-in limits, the waiting room's joins).
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// MaxKeys is a good bound of one limiter's map (keys are 64-bit hashes,
// so about 50 bytes an entry, ~5 MB a limiter at worst): a flood of
// distinct addresses cannot grow it without end.
const MaxKeys = 100_000

// Limiter gives every key (a client address, an email) a token bucket of n
// attempts that refills at n per minute, as GCRA: one time per key, when
// the bucket is full again. Each attempt pushes it one interval (a minute
// / n) later; an attempt that would push it more than n intervals ahead of
// now is refused, and the excess is the exact wait.
//
// Our own rather than golang.org/x/time/rate: a successful sign-in must
// give back the attempt it reserved, and rate.Reservation can only be
// cancelled before its time to act, i.e. not after a hash that took tens
// of milliseconds. As before, the service's injected clock drives it (tests
// move past the window without sleeping, Retry-After comes out exact), and
// the sweep runs inline (at most once a minute, under the lock), so there
// is no goroutine. A token bucket has no window boundary across which a
// caller could spend 2n attempts back to back.
type Limiter struct {
	mu        sync.Mutex
	interval  time.Duration
	burst     int
	maxKeys   int
	seed      maphash.Seed
	full      map[uint64]time.Time
	lastSweep time.Time
}

func New(perMinute, maxKeys int) *Limiter {
	return &Limiter{
		interval: time.Minute / time.Duration(perMinute),
		burst:    perMinute,
		maxKeys:  maxKeys,
		seed:     maphash.MakeSeed(),
		full:     map[uint64]time.Time{},
	}
}

// key hashes k with a per-limiter random seed: entries stay small whatever
// the email's length, and no one can aim two emails at one bucket.
func (l *Limiter) key(k string) uint64 { return maphash.String(l.seed, k) }

// Take spends one attempt of key at now. When none is left it reports how
// long until one is.
func (l *Limiter) Take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	next := l.at(k, now).Add(l.interval)
	if ahead := next.Sub(now) - time.Duration(l.burst)*l.interval; ahead > 0 {
		return false, max(ahead, time.Second)
	}
	l.set(k, next, now)
	return true, 0
}

// Spend records one attempt of key at now even when none is left; the
// bucket then stays empty (it does not go into debt).
func (l *Limiter) Spend(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	next := l.at(k, now).Add(l.interval)
	if empty := now.Add(time.Duration(l.burst) * l.interval); next.After(empty) {
		next = empty
	}
	l.set(k, next, now)
}

// Refund gives back one attempt of key.
func (l *Limiter) Refund(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	full, found := l.full[k]
	if !found {
		return // swept or evicted: already full
	}
	if full = full.Add(-l.interval); full.After(now) {
		l.full[k] = full
	} else {
		delete(l.full, k)
	}
}

// at is when key's bucket is full, never before now. Callers hold mu.
func (l *Limiter) at(k uint64, now time.Time) time.Time {
	if full, found := l.full[k]; found && full.After(now) {
		return full
	}
	return now
}

// set stores key's full time, sweeping and bounding the map first. Callers
// hold mu.
func (l *Limiter) set(k uint64, full, now time.Time) {
	if now.Sub(l.lastSweep) >= time.Minute {
		l.sweep(now)
	}
	if _, found := l.full[k]; !found && len(l.full) >= l.maxKeys {
		// Every entry is mid-window (the sweep just ran or a flood is on).
		// Evict one at random (map order) rather than refuse everyone new:
		// an attacker who wants a key's budget back must push ~maxKeys
		// fresh keys per reset, while real users keep signing in.
		for old := range l.full {
			delete(l.full, old)
			break
		}
	}
	l.full[k] = full
}

// sweep forgets buckets that have refilled: a full bucket is the same as
// no bucket.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, full := range l.full {
		if !full.After(now) {
			delete(l.full, k)
		}
	}
}

// Reset forgets every bucket.
func (l *Limiter) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.full)
}

// Len reports how many keys are tracked (for tests).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}

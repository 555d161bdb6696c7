package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// maxLimiterKeys bounds each limiter's map (about 200 bytes an entry, so
// ~20 MB at worst): a flood of distinct addresses or emails cannot grow it
// without end.
const maxLimiterKeys = 100_000

// limiter gives every key (a client address, an email) a token bucket of n
// attempts that refills at n per minute.
//
// golang.org/x/time/rate with our own map rather than go-limiter's
// memorystore, because rate.Limiter takes the time as an argument: the
// service's injected clock drives it, so tests move past the window without
// sleeping, and Retry-After comes out exact. memorystore reads the wall
// clock itself and sweeps from a goroutine that must be stopped. Here the
// sweep runs inline (at most once a minute, under the lock), so there is no
// goroutine at all. A token bucket also has no window boundary across which
// a caller could spend 2n attempts back to back.
type limiter struct {
	mu        sync.Mutex
	perMinute int
	maxKeys   int
	keys      map[string]*rate.Limiter
	lastSweep time.Time
}

func newLimiter(perMinute, maxKeys int) *limiter {
	return &limiter{perMinute: perMinute, maxKeys: maxKeys, keys: map[string]*rate.Limiter{}}
}

// take spends one attempt of key at now. When none is left it reports how
// long until one is.
func (l *limiter) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute {
		l.sweep(now)
	}
	lim, found := l.keys[key]
	if !found {
		if len(l.keys) >= l.maxKeys {
			// Every entry is mid-window (the sweep just ran or a flood is
			// on). Evict one at random (map order) rather than refuse
			// everyone new: an attacker who wants a key's budget back must
			// push ~maxKeys fresh keys per reset, while real users keep
			// signing in.
			for k := range l.keys {
				delete(l.keys, k)
				break
			}
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)
		l.keys[key] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	wait := time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
	return false, max(wait, time.Second)
}

// sweep forgets buckets that have refilled: a full bucket is the same as
// no bucket.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(l.keys, k)
		}
	}
}

// reset forgets every bucket.
func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.keys)
}

// len reports how many keys are tracked (for tests).
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// addrKey is the limiter key of a client address: IPv6 counted per /64,
// the rule every per-address limit shares (httpapi.AddrKey).
func addrKey(addr string) string { return httpapi.AddrKey(addr) }

package auth

import (
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// maxLimiterKeys bounds each limiter's map (keys are 64-bit hashes, so
// about 50 bytes an entry, ~5 MB a limiter at worst): a flood of distinct
// addresses or emails cannot grow it without end.
const maxLimiterKeys = 100_000

// hashesPerFailure is how many password hashes (sign-ins that succeed
// included) an address may cause for each failure it is allowed: room for
// everyone behind one NAT to sign in, too little for one client to keep the
// hashers busy with an account of its own.
const hashesPerFailure = 4

// limits are the sign-in and sign-up rate limits, n = AUTH_RATE_PER_MINUTE:
//
//   - per address, n attempts a minute that count sign-up attempts (each
//     creates an account or hashes for nothing) and sign-in failures;
//   - per address, 4n password hashes a minute, successful sign-ins too;
//   - per email, n sign-in failures a minute. Past that the email is under
//     attack, yet it is not locked for everyone (which would let anyone
//     lock anyone out): only an address that has failed on this email in
//     the last minute is refused. Any other address may try, once a minute
//     while the attack lasts; its owner with the right password gets in.
//
// A successful sign-in gives back the failure budgets it reserved, so only
// failures count; reserving before the hash (not counting after it) keeps a
// burst of concurrent guesses within the budget.
type limits struct {
	failures   *limiter // by address
	hashes     *limiter // by address
	emails     *limiter // by email
	emailAddrs *limiter // by (email, address): failed here in the last minute
}

// newLimits returns nil (no limits) when perMinute is 0.
func newLimits(perMinute int) *limits {
	if perMinute <= 0 {
		return nil
	}
	return &limits{
		failures:   newLimiter(perMinute, maxLimiterKeys),
		hashes:     newLimiter(hashesPerFailure*perMinute, maxLimiterKeys),
		emails:     newLimiter(perMinute, maxLimiterKeys),
		emailAddrs: newLimiter(1, maxLimiterKeys),
	}
}

func (l *limits) reset() {
	if l == nil {
		return
	}
	l.failures.reset()
	l.hashes.reset()
	l.emails.reset()
	l.emailAddrs.reset()
}

// admitSignUp spends one attempt and one hash of the client address.
func (s *Service) admitSignUp(addr string) error {
	if s.limits == nil {
		return nil
	}
	now, a := s.cfg.Now(), addrKey(addr)
	if ok, wait := s.limits.failures.take(a, now); !ok {
		s.log.Warn("auth rate limited", "by", "client_addr", "client_addr", addr)
		return tooMany(wait)
	}
	if ok, wait := s.limits.hashes.take(a, now); !ok {
		s.limits.failures.refund(a, now)
		s.log.Warn("auth rate limited", "by", "client_hashes", "client_addr", addr)
		return tooMany(wait)
	}
	return nil
}

func tooMany(wait time.Duration) error {
	return &fault.Error{Kind: fault.TooMany, Message: "Too many attempts, try again later", RetryAfter: wait}
}

// signInAttempt is what admitSignIn reserved for one sign-in, settled by
// done once the password is checked.
type signInAttempt struct {
	l                   *limits
	now                 func() time.Time
	addr, email, pair   string
	tookEmail, tookPair bool
}

// admitSignIn reserves a sign-in attempt of email from the client address,
// or refuses it with the time until one is allowed. The address is checked
// first, so a caller already over its own limit cannot add entries to the
// email limiters.
func (s *Service) admitSignIn(addr, email string) (*signInAttempt, error) {
	if s.limits == nil {
		return nil, nil
	}
	l, now, a := s.limits, s.cfg.Now(), addrKey(addr)
	if ok, wait := l.hashes.take(a, now); !ok {
		s.log.Warn("auth rate limited", "by", "client_hashes", "client_addr", addr)
		return nil, tooMany(wait)
	}
	if ok, wait := l.failures.take(a, now); !ok {
		l.hashes.refund(a, now)
		s.log.Warn("auth rate limited", "by", "client_addr", "client_addr", addr)
		return nil, tooMany(wait)
	}
	at := &signInAttempt{l: l, now: s.cfg.Now, addr: a, email: email, pair: email + "\x00" + a}
	ok, emailWait := l.emails.take(email, now)
	if ok {
		at.tookEmail = true
		return at, nil
	}
	// Someone is guessing this email's password. An address that failed on
	// it in the last minute waits until then, or until the email's next
	// attempt comes back if that is sooner; any other goes ahead (once a
	// minute).
	if ok, wait := l.emailAddrs.take(at.pair, now); !ok {
		l.failures.refund(a, now)
		l.hashes.refund(a, now)
		// The email itself is not logged: it is personal data, and the
		// address of whoever is hammering it is what an operator acts on.
		s.log.Warn("auth rate limited", "by", "email", "client_addr", addr)
		return nil, tooMany(min(wait, emailWait))
	}
	at.tookPair = true
	return at, nil
}

// done settles the attempt after the password check that returned err: a
// wrong password (or unknown email) is a failure and keeps what was
// reserved; anything else gives the failure budgets back (the hash was
// spent all the same).
func (at *signInAttempt) done(err error) {
	if at == nil {
		return
	}
	now := at.now()
	if !errors.Is(err, ErrInvalidCredentials) {
		at.l.failures.refund(at.addr, now)
		if at.tookEmail {
			at.l.emails.refund(at.email, now)
		}
		if at.tookPair {
			at.l.emailAddrs.refund(at.pair, now)
		}
		return
	}
	// Record the failure where nothing was reserved: the email stays under
	// attack while failures go on, and this address has now failed on it.
	if !at.tookEmail {
		at.l.emails.spend(at.email, now)
	}
	if !at.tookPair {
		at.l.emailAddrs.spend(at.pair, now)
	}
}

// limiter gives every key (a client address, an email) a token bucket of n
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
type limiter struct {
	mu        sync.Mutex
	interval  time.Duration
	burst     int
	maxKeys   int
	seed      maphash.Seed
	full      map[uint64]time.Time
	lastSweep time.Time
}

func newLimiter(perMinute, maxKeys int) *limiter {
	return &limiter{
		interval: time.Minute / time.Duration(perMinute),
		burst:    perMinute,
		maxKeys:  maxKeys,
		seed:     maphash.MakeSeed(),
		full:     map[uint64]time.Time{},
	}
}

// key hashes k with a per-limiter random seed: entries stay small whatever
// the email's length, and no one can aim two emails at one bucket.
func (l *limiter) key(k string) uint64 { return maphash.String(l.seed, k) }

// take spends one attempt of key at now. When none is left it reports how
// long until one is.
func (l *limiter) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
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

// spend records one attempt of key at now even when none is left; the
// bucket then stays empty (it does not go into debt).
func (l *limiter) spend(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	next := l.at(k, now).Add(l.interval)
	if empty := now.Add(time.Duration(l.burst) * l.interval); next.After(empty) {
		next = empty
	}
	l.set(k, next, now)
}

// refund gives back one attempt of key.
func (l *limiter) refund(key string, now time.Time) {
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
func (l *limiter) at(k uint64, now time.Time) time.Time {
	if full, found := l.full[k]; found && full.After(now) {
		return full
	}
	return now
}

// set stores key's full time, sweeping and bounding the map first. Callers
// hold mu.
func (l *limiter) set(k uint64, full, now time.Time) {
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
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, full := range l.full {
		if !full.After(now) {
			delete(l.full, k)
		}
	}
}

// reset forgets every bucket.
func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.full)
}

// len reports how many keys are tracked (for tests).
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}

// addrKey is the limiter key of a client address: IPv6 counted per /64,
// the rule every per-address limit shares (httpapi.AddrKey).
func addrKey(addr string) string { return httpapi.AddrKey(addr) }

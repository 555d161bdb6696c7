package auth

import (
	"errors"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/ratelimit"
)

// maxLimiterKeys bounds each limiter's map (keys are 64-bit hashes, so
// about 50 bytes an entry, ~5 MB a limiter at worst): a flood of distinct
// addresses or emails cannot grow it without end.
const maxLimiterKeys = ratelimit.MaxKeys

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
	failures   *ratelimit.Limiter // by address
	hashes     *ratelimit.Limiter // by address
	emails     *ratelimit.Limiter // by email
	emailAddrs *ratelimit.Limiter // by (email, address): failed here in the last minute
}

// newLimits returns nil (no limits) when perMinute is 0.
func newLimits(perMinute int) *limits {
	if perMinute <= 0 {
		return nil
	}
	return &limits{
		failures:   ratelimit.New(perMinute, maxLimiterKeys),
		hashes:     ratelimit.New(hashesPerFailure*perMinute, maxLimiterKeys),
		emails:     ratelimit.New(perMinute, maxLimiterKeys),
		emailAddrs: ratelimit.New(1, maxLimiterKeys),
	}
}

func (l *limits) reset() {
	if l == nil {
		return
	}
	l.failures.Reset()
	l.hashes.Reset()
	l.emails.Reset()
	l.emailAddrs.Reset()
}

// admitSignUp spends one attempt and one hash of the client address.
func (s *Service) admitSignUp(addr string) error {
	if s.limits == nil {
		return nil
	}
	now, a := s.cfg.Now(), addrKey(addr)
	if ok, wait := s.limits.failures.Take(a, now); !ok {
		s.log.Warn("auth rate limited", "by", "client_addr", "client_addr", addr)
		return tooMany(wait)
	}
	if ok, wait := s.limits.hashes.Take(a, now); !ok {
		s.limits.failures.Refund(a, now)
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
	if ok, wait := l.hashes.Take(a, now); !ok {
		s.log.Warn("auth rate limited", "by", "client_hashes", "client_addr", addr)
		return nil, tooMany(wait)
	}
	if ok, wait := l.failures.Take(a, now); !ok {
		l.hashes.Refund(a, now)
		s.log.Warn("auth rate limited", "by", "client_addr", "client_addr", addr)
		return nil, tooMany(wait)
	}
	at := &signInAttempt{l: l, now: s.cfg.Now, addr: a, email: email, pair: email + "\x00" + a}
	ok, emailWait := l.emails.Take(email, now)
	if ok {
		at.tookEmail = true
		return at, nil
	}
	// Someone is guessing this email's password. An address that failed on
	// it in the last minute waits until then, or until the email's next
	// attempt comes back if that is sooner; any other goes ahead (once a
	// minute).
	if ok, wait := l.emailAddrs.Take(at.pair, now); !ok {
		l.failures.Refund(a, now)
		l.hashes.Refund(a, now)
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
		at.l.failures.Refund(at.addr, now)
		if at.tookEmail {
			at.l.emails.Refund(at.email, now)
		}
		if at.tookPair {
			at.l.emailAddrs.Refund(at.pair, now)
		}
		return
	}
	// Record the failure where nothing was reserved: the email stays under
	// attack while failures go on, and this address has now failed on it.
	if !at.tookEmail {
		at.l.emails.Spend(at.email, now)
	}
	if !at.tookPair {
		at.l.emailAddrs.Spend(at.pair, now)
	}
}

// addrKey is the limiter key of a client address: IPv6 counted per /64,
// the rule every per-address limit shares (httpapi.AddrKey).
func addrKey(addr string) string { return httpapi.AddrKey(addr) }

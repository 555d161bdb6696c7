// Package auth owns the users of Ticketing: signing up, signing in and out,
// and telling a caller who they are. It stores accounts (email and argon2id
// password hash) in its own database and issues the session cookie, a JWT
// that every other service verifies on its own with the shared key. A
// sign-out revokes the token before it expires: auth records it and
// publishes session.revoked, which every process keeps in memory.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"golang.org/x/sync/semaphore"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Errors the use cases return.
var (
	ErrEmailInUse = &fault.Error{Kind: fault.Invalid, Code: "email_in_use", Field: "email", Message: "Email in use"}
	// ErrInvalidCredentials is the answer for an unknown email and for a
	// wrong password alike, so sign-in does not tell which emails exist.
	ErrInvalidCredentials = fault.Coded(fault.Invalid, "invalid_credentials", "Invalid credentials")
)

// Config is what the service needs from its environment.
type Config struct {
	// Key is the HMAC key of session tokens (JWT_KEY); it must not be empty.
	Key []byte
	// TokenTTL is how long a session lasts (default and at most
	// session.MaxTTL, 24h).
	TokenTTL time.Duration
	// CookieSecure marks the session cookie Secure (COOKIE_SECURE).
	CookieSecure bool
	// RatePerMinute is how many failed sign-ins and sign-up attempts one
	// client address, and failed sign-ins of one email, are allowed per
	// minute (AUTH_RATE_PER_MINUTE; limits in limit.go); 0 turns the limits
	// off.
	RatePerMinute int
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Revoked, when set, is this process's set of revoked sessions: a
	// sign-out is added to it as it commits, before the bus brings it back.
	Revoked *session.Revocations
	// PasswordHashing, when set, replaces OWASP's argon2id parameters
	// (PasswordParams). No variable sets it: the end-to-end tests of the
	// other parts, which start a hundred systems in one process, hand in
	// a cheap set, since 19 MiB per sign-up made the collector's work
	// half of their CPU.
	PasswordHashing *argon2id.Params
}

// PasswordParams are OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
var PasswordParams = argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Service runs the auth use cases and serves its HTTP routes.
type Service struct {
	db    *sqldb.DB
	store *Store
	ob    *outbox.Outbox
	log   *slog.Logger
	cfg   Config

	params argon2id.Params
	// hashers caps the argon2id computations in flight: each holds 19 MiB
	// and a core for tens of milliseconds, so a flood of sign-ins would
	// otherwise exhaust memory instead of queueing.
	hashers *semaphore.Weighted
	// dummyHash is what an unknown email's password is checked against, so
	// that sign-in takes as long whether or not the account exists.
	dummyHash func() (string, error)

	// limits is nil when rate limiting is off.
	limits *limits
}

// New returns the service over db, whose migrations must include
// outbox.Migrations and Migrations; ob publishes its events. It panics when
// cfg.Key is empty: HS256 signs with an empty key without complaint, and
// anyone could then forge a session.
func New(db *sqldb.DB, ob *outbox.Outbox, log *slog.Logger, cfg Config) *Service {
	if len(cfg.Key) == 0 {
		panic("auth: Config.Key is empty")
	}
	// Processes replay revocations of the last session.MaxTTL only: a
	// longer-lived token could outlive its revocation.
	if cfg.TokenTTL <= 0 || cfg.TokenTTL > session.MaxTTL {
		cfg.TokenTTL = session.MaxTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		db:      db,
		store:   NewStore(db),
		ob:      ob,
		log:     log,
		cfg:     cfg,
		params:  PasswordParams,
		hashers: semaphore.NewWeighted(int64(runtime.GOMAXPROCS(0))),
		limits:  newLimits(cfg.RatePerMinute),
	}
	if cfg.PasswordHashing != nil {
		s.params = *cfg.PasswordHashing
	}
	s.dummyHash = sync.OnceValues(func() (string, error) {
		return argon2id.CreateHash(rand.Text(), &s.params)
	})
	return s
}

// Close releases the rate limiters' memory. The service runs no goroutine
// of its own, so calling Close is optional; it is safe to call more than
// once, and the service keeps working after it (with fresh limits).
func (s *Service) Close() error {
	s.limits.reset()
	return nil
}

// SignUp creates an account for email and password and returns it. The
// email is normalised first; ErrEmailInUse when another account has it.
// addr is the client's address, which the rate limits count by; a request
// refused by validation costs it nothing.
func (s *Service) SignUp(ctx context.Context, addr, email, password string) (User, error) {
	email = NormalizeEmail(email)
	if err := checkSignUp(email, password); err != nil {
		return User{}, err
	}
	if err := s.admitSignUp(addr); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Email:        email,
		PasswordHash: hash,
		CreatedAt:    s.cfg.Now().UTC(),
	}
	// The unique index, not a lookup first, decides between two sign-ups
	// racing for one email: exactly one insert wins.
	if err := s.store.InsertUser(ctx, u); err != nil {
		if errors.Is(err, sqldb.ErrConflict) {
			return User{}, ErrEmailInUse
		}
		return User{}, err
	}
	return u, nil
}

// SignIn returns the account of email when password is its password, and
// ErrInvalidCredentials otherwise (unknown email or wrong password alike).
// addr is the client's address: the rate limits count failures by it and
// by email (limit.go); a request refused by validation costs nothing.
func (s *Service) SignIn(ctx context.Context, addr, email, password string) (User, error) {
	email = NormalizeEmail(email)
	if err := checkSignIn(email, password); err != nil {
		return User{}, err
	}
	at, err := s.admitSignIn(addr, email)
	if err != nil {
		return User{}, err
	}
	u, err := s.checkPassword(ctx, email, password)
	at.done(err)
	return u, err
}

// checkPassword is SignIn past validation and the rate limits.
func (s *Service) checkPassword(ctx context.Context, email, password string) (User, error) {
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, sqldb.ErrNotFound) {
		// Spend the same work as for a real account, then refuse.
		dummy, err := s.dummyHash()
		if err != nil {
			return User{}, fmt.Errorf("dummy hash: %w", err)
		}
		if _, err := s.verify(ctx, password, dummy); err != nil {
			return User{}, err
		}
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, err
	}
	ok, err := s.verify(ctx, password, u.PasswordHash)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// hash computes the argon2id PHC string of password, waiting for a free
// hasher; if ctx ends first its error is returned.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.hashers.Acquire(ctx, 1); err != nil {
		return "", fmt.Errorf("wait for hasher: %w", err)
	}
	defer s.hashers.Release(1)
	h, err := argon2id.CreateHash(password, &s.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// verify reports whether password matches the PHC string hash, waiting for
// a free hasher like hash does.
func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	if err := s.hashers.Acquire(ctx, 1); err != nil {
		return false, fmt.Errorf("wait for hasher: %w", err)
	}
	defer s.hashers.Release(1)
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

// Package session issues and verifies the signed session token (an HS256
// JWT) that every service checks on its own, with the shared key, without
// calling auth. It also names the cookie that carries it, and keeps the set
// of tokens signed out before they expire (Revocations).
package session

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CookieName is the cookie that carries the token.
const CookieName = "session"

// MaxTTL is the longest a token lives. Auth issues none longer, and a
// process that learns of revocations replays this far back: a revocation
// older than that names only tokens that have expired anyway.
const MaxTTL = 24 * time.Hour

// User is who a valid token says the caller is.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// Organizer says an operator made the user an organizer (`ticketing
	// admin organizer grant`) before this token was issued: the services
	// trust it from the signed token, as they trust the id.
	Organizer bool `json:"organizer,omitempty"`
}

// Token is a verified token: whose it is, and which one, so it can be
// revoked.
type Token struct {
	User User
	// ID is the token's jti, random per sign-in.
	ID string
	// IssuedAt is to the millisecond, ExpiresAt to the second.
	IssuedAt, ExpiresAt time.Time
}

type claims struct {
	Email     string `json:"email"`
	Organizer bool   `json:"organizer,omitempty"`
	// IssuedAt shadows RegisteredClaims' iat (the outer field wins in
	// encoding/json): the library's NumericDate keeps whole seconds, and
	// "sign out everywhere" must tell a token issued just before it from a
	// sign-in just after, within the same second.
	IssuedAt millis `json:"iat"`
	jwt.RegisteredClaims
}

// millis is a JWT NumericDate with millisecond fractions
// (`"iat":1767323045.123`): RFC 7519 allows non-integer seconds.
type millis struct{ time.Time }

func (m millis) MarshalJSON() ([]byte, error) {
	if m.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(m.UnixMilli())/1000, 'f', 3, 64), nil
}

func (m *millis) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = millis{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f <= 0 || f > 1e12 {
		return fmt.Errorf("session: iat %s is not a time", b)
	}
	m.Time = time.UnixMilli(int64(math.Round(f * 1000))).UTC()
	return nil
}

var (
	// ErrInvalid means the token is malformed, forged, of another algorithm,
	// expired, or revoked.
	ErrInvalid = errors.New("session: invalid token")
	// ErrRevoked is the ErrInvalid of a token that was signed out.
	ErrRevoked = fmt.Errorf("%w: signed out", ErrInvalid)
)

// Issue signs a token for u that expires ttl after now, with a random id.
func Issue(key []byte, u User, now time.Time, ttl time.Duration) (string, error) {
	if len(key) == 0 {
		// HS256 signs happily with an empty key; such a token anyone can forge.
		return "", errors.New("session: empty signing key")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Email:     u.Email,
		Organizer: u.Organizer,
		IssuedAt:  millis{now.Truncate(time.Millisecond)},
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        rand.Text(), // 128 random bits: sign-out revokes this id
			Subject:   u.ID,
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	})
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("session: sign: %w", err)
	}
	return s, nil
}

// Parse checks the signature (HS256 only), the expiry, and that the
// subject, id and issue time are present, as of now. It does not know what
// was revoked: Verifier does.
//
// A token without an id or issue time (none has been issued since
// revocation exists) is refused, so that every accepted token can be
// signed out.
func Parse(key []byte, token string, now time.Time) (Token, error) {
	if len(key) == 0 {
		return Token{}, ErrInvalid
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || c.Subject == "" || c.ID == "" || c.IssuedAt.IsZero() {
		return Token{}, ErrInvalid
	}
	return Token{
		User:      User{ID: c.Subject, Email: c.Email, Organizer: c.Organizer},
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}

// Verify is Parse for callers that need only the user.
func Verify(key []byte, token string, now time.Time) (User, error) {
	t, err := Parse(key, token, now)
	return t.User, err
}

// Verifier is what every service checks a session cookie with: the shared
// key, the clock, and the revocations this process has learnt of.
type Verifier struct {
	Key []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Revoked is the set of signed-out tokens; nil means none (tests of a
	// service that never sees a sign-out).
	Revoked *Revocations
	// Cache keeps the tokens verified before with Key; nil means none.
	Cache *Cache
}

// Verify parses token and refuses it (ErrRevoked) when it was signed out.
// No I/O: the revocation check is a map lookup.
func (v Verifier) Verify(token string) (Token, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	cache := v.Cache.forKey(v.Key)
	t, ok := cache.get(token)
	if ok {
		// As Parse's expiry check: valid strictly before exp.
		if !now().Before(t.ExpiresAt) {
			return Token{}, ErrInvalid
		}
	} else {
		var err error
		if t, err = Parse(v.Key, token, now()); err != nil {
			return Token{}, err
		}
		cache.put(token, t)
	}
	if v.Revoked.Revoked(t) {
		return Token{}, ErrRevoked
	}
	return t, nil
}

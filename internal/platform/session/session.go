// Package session issues and verifies the signed session token (an HS256
// JWT) that every service checks on its own, with the shared key, without
// calling auth. It also names the cookie that carries it.
package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CookieName is the cookie that carries the token.
const CookieName = "session"

// User is who a valid token says the caller is.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type claims struct {
	Email string `json:"email"`
	jwt.RegisteredClaims
}

// ErrInvalid means the token is malformed, forged, of another algorithm or
// expired.
var ErrInvalid = errors.New("session: invalid token")

// Issue signs a token for u that expires ttl after now.
func Issue(key []byte, u User, now time.Time, ttl time.Duration) (string, error) {
	if len(key) == 0 {
		// HS256 signs happily with an empty key; such a token anyone can forge.
		return "", errors.New("session: empty signing key")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Email: u.Email,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	})
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("session: sign: %w", err)
	}
	return s, nil
}

// Verify checks the signature (HS256 only), the expiry (required) and the
// subject, as of now.
func Verify(key []byte, token string, now time.Time) (User, error) {
	if len(key) == 0 {
		return User{}, ErrInvalid
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || c.Subject == "" {
		return User{}, ErrInvalid
	}
	return User{ID: c.Subject, Email: c.Email}, nil
}

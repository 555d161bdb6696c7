// Package admission signs and verifies the waiting room's admissions
// (DESIGN.md section 9.5): a short-lived HS256 JWT that lets one user
// reserve at one queued event. The events part signs them, orders checks
// them, each on its own, with a key both derive from the session key
// (JWT_KEY), so no call passes between them.
//
// The key is derived (HKDF-SHA256, its own label) rather than the session
// key itself, and the token carries its own type: an admission can never
// pass for a session token, nor a session token for an admission.
package admission

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TTL is how long an admission is valid after the room lets its holder in.
const TTL = 5 * time.Minute

// tokenType is the typ claim of every admission.
const tokenType = "queue-admission"

var (
	// ErrInvalid is a token that is malformed, forged, expired, or not an
	// admission.
	ErrInvalid = errors.New("admission: invalid token")
	// ErrNotYours is a valid admission of another user or another event.
	ErrNotYours = errors.New("admission: for another user or event")
)

// Key derives the admissions' signing key from the session key.
func Key(sessionKey []byte) ([]byte, error) {
	if len(sessionKey) == 0 {
		return nil, errors.New("admission: empty session key")
	}
	k, err := hkdf.Key(sha256.New, sessionKey, nil, "ticketing queue admissions", 32)
	if err != nil {
		return nil, fmt.Errorf("admission: derive key: %w", err)
	}
	return k, nil
}

type claims struct {
	Type  string `json:"typ"`
	Event string `json:"event"`
	jwt.RegisteredClaims
}

// Issue signs an admission of userID to eventID that expires at expires.
func Issue(key []byte, userID, eventID string, expires time.Time) (string, error) {
	if len(key) == 0 {
		return "", errors.New("admission: empty signing key")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Type:  tokenType,
		Event: eventID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			ExpiresAt: jwt.NewNumericDate(expires),
		},
	})
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("admission: sign: %w", err)
	}
	return s, nil
}

// Verify checks that token is an admission signed with key, unexpired at
// now, of userID to eventID: ErrInvalid or ErrNotYours otherwise.
func Verify(key []byte, token, userID, eventID string, now time.Time) error {
	if len(key) == 0 || token == "" {
		return ErrInvalid
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || c.Type != tokenType {
		return ErrInvalid
	}
	if c.Subject != userID || c.Event != eventID {
		return ErrNotYours
	}
	return nil
}

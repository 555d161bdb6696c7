package events

import "time"

const SubjectSessionRevoked Subject = "session.revoked"

// SessionRevoked ends sessions before their tokens expire. Sign-out names
// the one token (TokenID); "sign out everywhere" sets NotBefore, and every
// token of the user issued before it (whole seconds) is dead; it may name
// the caller's token too. ExpiresAt is when the revocation stops mattering
// (every token it names has expired by then): every process that verifies
// sessions keeps it in memory until then.
type SessionRevoked struct {
	UserID    string     `json:"userId"`
	TokenID   string     `json:"tokenId,omitempty"`
	NotBefore *time.Time `json:"notBefore,omitempty"`
	ExpiresAt time.Time  `json:"expiresAt"`
}

func (SessionRevoked) Subject() Subject { return SubjectSessionRevoked }

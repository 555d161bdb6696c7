package session

import (
	"sync"
	"time"
)

// Revocation ends sessions before their tokens expire: one token (sign
// out), or every token of a user issued before a moment (sign out
// everywhere), or both.
type Revocation struct {
	UserID string
	// TokenID is the jti of the one token signed out; "" for none.
	TokenID string
	// NotBefore, when set, kills every token of UserID issued before it
	// (token issue times are to the millisecond).
	NotBefore time.Time
	// ExpiresAt is when the revocation stops mattering: the revoked token,
	// or the last token issued before NotBefore, has expired by then.
	ExpiresAt time.Time
}

// pruneEvery bounds how often Add sweeps out revocations that no longer
// matter. The sweep runs on the (rare) write path only.
const pruneEvery = time.Minute

// Revocations is the in-memory set of revoked sessions of one process. It
// is fed from the bus (every revocation, in every process) and read on
// every request, so a check is a map lookup under a read lock. The zero
// value is not usable; a nil *Revocations revokes nothing.
type Revocations struct {
	mu sync.RWMutex
	// tokens maps a revoked jti to its expiry.
	tokens map[string]time.Time
	// users maps a user to the latest "sign out everywhere".
	users  map[string]userRevocation
	pruned time.Time
}

type userRevocation struct {
	notBefore, expiresAt time.Time
}

// NewRevocations returns an empty set.
func NewRevocations() *Revocations {
	return &Revocations{tokens: map[string]time.Time{}, users: map[string]userRevocation{}}
}

// Add records rv as of now. A revocation that no longer matters is
// ignored; adding one twice changes nothing; of two sign-outs everywhere
// of a user the later wins.
func (r *Revocations) Add(rv Revocation, now time.Time) {
	if !rv.ExpiresAt.After(now) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rv.TokenID != "" {
		r.tokens[rv.TokenID] = rv.ExpiresAt
	}
	if !rv.NotBefore.IsZero() {
		if cur, ok := r.users[rv.UserID]; !ok || rv.NotBefore.After(cur.notBefore) {
			r.users[rv.UserID] = userRevocation{notBefore: rv.NotBefore, expiresAt: rv.ExpiresAt}
		}
	}
	if now.Sub(r.pruned) >= pruneEvery {
		r.prune(now)
	}
}

// prune drops what has expired: a revoked token past its expiry would be
// refused anyway. Called with mu held.
func (r *Revocations) prune(now time.Time) {
	r.pruned = now
	for id, exp := range r.tokens {
		if !exp.After(now) {
			delete(r.tokens, id)
		}
	}
	for id, u := range r.users {
		if !u.expiresAt.After(now) {
			delete(r.users, id)
		}
	}
}

// Revoked reports whether t was signed out.
func (r *Revocations) Revoked(t Token) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.tokens[t.ID]; ok {
		return true
	}
	u, ok := r.users[t.User.ID]
	return ok && t.IssuedAt.Before(u.notBefore)
}

// NotBefore is the time before which every token of userID is revoked
// (the latest sign-out everywhere kept), or zero. A token issued for the
// user now must carry at least this time to live.
func (r *Revocations) NotBefore(userID string) time.Time {
	if r == nil {
		return time.Time{}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.users[userID].notBefore
}

// Len is how many revocations are kept (tokens plus users), for metrics
// and tests.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tokens) + len(r.users)
}

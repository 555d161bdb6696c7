package session

import (
	"bytes"
	"sync"
)

// Cache remembers the tokens this process has verified, by their exact
// text, so that a client's next request with the same cookie skips the
// signature check and the decoding of the claims' JSON: those were a fifth
// of the CPU of a read served (docs/PERFORMANCE.md). Only a token that
// verified is kept, under its whole signed text, so nothing can be forged
// through it; expiry and revocation are still checked on every use.
type Cache struct {
	// key is the signing key the tokens were verified with: a Verifier with
	// another key does not use the cache.
	key    []byte
	mu     sync.RWMutex
	tokens map[string]Token
	max    int
}

// NewCache returns a Cache of at most max tokens verified with key. A full
// cache starts over rather than tracking use: a token costs one
// verification to come back, and the bound holds whatever the clients do.
func NewCache(key []byte, max int) *Cache {
	return &Cache{key: bytes.Clone(key), tokens: make(map[string]Token), max: max}
}

// forKey is c when it holds tokens verified with key, else nil (no cache).
func (c *Cache) forKey(key []byte) *Cache {
	if c == nil || !bytes.Equal(c.key, key) {
		return nil
	}
	return c
}

// DefaultCacheSize is the tokens a process keeps: a few MiB at most.
const DefaultCacheSize = 8192

func (c *Cache) get(token string) (Token, bool) {
	if c == nil {
		return Token{}, false
	}
	c.mu.RLock()
	t, ok := c.tokens[token]
	c.mu.RUnlock()
	return t, ok
}

func (c *Cache) put(token string, t Token) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.tokens) >= c.max {
		clear(c.tokens)
	}
	c.tokens[token] = t
	c.mu.Unlock()
}

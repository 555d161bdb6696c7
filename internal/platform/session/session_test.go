package session_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/session"
)

var (
	key  = []byte("test-key-0123456789abcdef0123456789")
	now  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	user = session.User{ID: "u1", Email: "a@b.c"}
)

// sign builds a token by hand, so tests can craft what Issue never would.
func sign(header, claims string, key []byte) string {
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(header)) + "." + b64([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + b64(mac.Sum(nil))
}

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	issue := func(key []byte, u session.User, at time.Time, ttl time.Duration) string {
		t.Helper()
		tok, err := session.Issue(key, u, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp, iat := now.Add(time.Hour).Unix(), now.Unix()
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	tests := []struct {
		name    string
		key     []byte
		token   string
		want    session.User
		wantErr bool
	}{
		{name: "round trip", key: key, token: issue(key, user, now, time.Hour), want: user},
		{name: "organizer", key: key, token: issue(key, session.User{ID: "u1", Email: "a@b.c", Organizer: true}, now, time.Hour),
			want: session.User{ID: "u1", Email: "a@b.c", Organizer: true}},
		{name: "hand-made organizer claim", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","organizer":true,"jti":"j","iat":%d,"exp":%d}`, iat, exp), key),
			want: session.User{ID: "u1", Email: "a@b.c", Organizer: true}},
		{name: "just before expiry", key: key, token: issue(key, user, now.Add(-time.Hour+time.Second), time.Hour), want: user},
		{name: "expired", key: key, token: issue(key, user, now.Add(-2*time.Hour), time.Hour), wantErr: true},
		{name: "wrong key", key: []byte("other-key-0123456789abcdef01234567"), token: issue(key, user, now, time.Hour), wantErr: true},
		{name: "alg none", key: key, token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"u1","exp":%d}`, exp)) + ".", wantErr: true},
		{name: "HS384 with the right key", key: key, token: func() string {
			// Right key, other algorithm: only HS256 is accepted.
			return sign(`{"alg":"HS384","typ":"JWT"}`, fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp), key)
		}(), wantErr: true},
		{name: "hand-made HS256 is valid", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","iat":%d,"exp":%d}`, iat, exp), key), want: user},
		{name: "iat with fractions", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","iat":%d.25,"exp":%d}`, iat, exp), key), want: user},
		{name: "iat not a number", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","iat":"x","exp":%d}`, exp), key), wantErr: true},
		{name: "iat null", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","iat":null,"exp":%d}`, exp), key), wantErr: true},
		{name: "missing exp", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","iat":%d}`, iat), key), wantErr: true},
		{name: "missing sub", key: key, token: sign(hs256, fmt.Sprintf(`{"email":"a@b.c","jti":"j","iat":%d,"exp":%d}`, iat, exp), key), wantErr: true},
		// Every accepted token must be revocable: no id, no session.
		{name: "missing jti", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","iat":%d,"exp":%d}`, iat, exp), key), wantErr: true},
		{name: "missing iat", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","jti":"j","exp":%d}`, exp), key), wantErr: true},
		{name: "tampered payload", key: key, token: func() string {
			tok := sign(hs256, fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp), key)
			other := sign(hs256, fmt.Sprintf(`{"sub":"admin","exp":%d}`, exp), []byte("x"))
			return other[:len(other)-43] + tok[len(tok)-43:]
		}(), wantErr: true},
		{name: "empty key never verifies", key: nil, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp), nil), wantErr: true},
		{name: "garbage", key: key, token: "a.b.c", wantErr: true},
		{name: "empty", key: key, token: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := session.Verify(tc.key, tc.token, now)
			if tc.wantErr {
				if !errors.Is(err, session.ErrInvalid) {
					t.Errorf("Verify = %+v, %v; want ErrInvalid", got, err)
				}
				if got != (session.User{}) {
					t.Errorf("user %+v returned with an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Verify = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestIssueRefusesEmptyKey(t *testing.T) {
	t.Parallel()
	if tok, err := session.Issue(nil, user, now, time.Hour); err == nil {
		t.Errorf("Issue with an empty key = %q, want an error", tok)
	}
}

// TestParseGivesTheTokenItsID: each token has its own id, and its issue
// time to the millisecond (sign out everywhere compares it).
func TestParseGivesTheTokenItsID(t *testing.T) {
	t.Parallel()
	ids := map[string]bool{}
	for i := range 3 {
		at := now.Add(time.Duration(i)*time.Millisecond + 123456*time.Microsecond) // x.123456 s: .123 is kept
		tok, err := session.Issue(key, user, at, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := session.Parse(key, tok, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.User != user || len(got.ID) < 16 || !got.IssuedAt.Equal(at.Truncate(time.Millisecond)) ||
			!got.ExpiresAt.Equal(at.Add(time.Hour).Truncate(time.Second)) {
			t.Fatalf("Parse = %+v, want %+v with an id, issued at %s, expiring an hour later", got, user, at)
		}
		ids[got.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("three sign-ins share token ids: %v", ids)
	}
}

func TestRevocations(t *testing.T) {
	t.Parallel()
	// A token issued at `at` by user u, with id id.
	token := func(u, id string, at time.Time) session.Token {
		return session.Token{User: session.User{ID: u}, ID: id, IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	signOut := func(u, id string) session.Revocation {
		return session.Revocation{UserID: u, TokenID: id, ExpiresAt: now.Add(time.Hour)}
	}
	everywhere := func(u string, nb time.Time) session.Revocation {
		return session.Revocation{UserID: u, NotBefore: nb, ExpiresAt: nb.Add(session.MaxTTL)}
	}
	tests := []struct {
		name  string
		added []session.Revocation
		token session.Token
		want  bool
	}{
		{name: "nothing revoked", token: token("u1", "a", now)},
		{name: "this token signed out", added: []session.Revocation{signOut("u1", "a")}, token: token("u1", "a", now), want: true},
		{name: "another token signed out", added: []session.Revocation{signOut("u1", "b")}, token: token("u1", "a", now)},
		{name: "issued a millisecond before sign out everywhere", added: []session.Revocation{everywhere("u1", now)}, token: token("u1", "a", now.Add(-time.Millisecond)), want: true},
		{name: "issued at the instant of sign out everywhere", added: []session.Revocation{everywhere("u1", now)}, token: token("u1", "a", now)},
		{name: "issued a millisecond after sign out everywhere", added: []session.Revocation{everywhere("u1", now)}, token: token("u1", "a", now.Add(time.Millisecond))},
		{name: "another user signed out everywhere", added: []session.Revocation{everywhere("u2", now)}, token: token("u1", "a", now.Add(-time.Second))},
		{name: "the later sign out everywhere wins", added: []session.Revocation{everywhere("u1", now), everywhere("u1", now.Add(-time.Hour))},
			token: token("u1", "a", now.Add(-time.Minute)), want: true},
		{name: "a revocation that no longer matters is ignored", added: []session.Revocation{{UserID: "u1", TokenID: "a", ExpiresAt: now}},
			token: token("u1", "a", now.Add(-time.Hour))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := session.NewRevocations()
			for _, rv := range tc.added {
				r.Add(rv, now)
			}
			if got := r.Revoked(tc.token); got != tc.want {
				t.Errorf("Revoked = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRevocationsForgetWhatExpired(t *testing.T) {
	t.Parallel()
	r := session.NewRevocations()
	r.Add(session.Revocation{UserID: "u1", TokenID: "a", ExpiresAt: now.Add(time.Minute)}, now)
	r.Add(session.Revocation{UserID: "u2", NotBefore: now, ExpiresAt: now.Add(time.Minute)}, now)
	if r.Len() != 2 {
		t.Fatalf("Len = %d, want 2", r.Len())
	}
	// The next revocation, an hour on, sweeps out the two that expired.
	r.Add(session.Revocation{UserID: "u3", TokenID: "c", ExpiresAt: now.Add(2 * time.Hour)}, now.Add(time.Hour))
	if r.Len() != 1 {
		t.Errorf("Len = %d after the others expired, want 1", r.Len())
	}
}

func TestVerifierRefusesRevokedTokens(t *testing.T) {
	t.Parallel()
	revoked := session.NewRevocations()
	v := session.Verifier{Key: key, Now: func() time.Time { return now }, Revoked: revoked}
	tok, err := session.Issue(key, user, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(tok)
	if err != nil || got.User != user {
		t.Fatalf("Verify before sign-out = %+v, %v", got, err)
	}
	revoked.Add(session.Revocation{UserID: user.ID, TokenID: got.ID, ExpiresAt: got.ExpiresAt}, now)
	if got, err := v.Verify(tok); !errors.Is(err, session.ErrRevoked) || !errors.Is(err, session.ErrInvalid) || got != (session.Token{}) {
		t.Errorf("Verify after sign-out = %+v, %v; want ErrRevoked (an ErrInvalid)", got, err)
	}
	// Without a set nothing is revoked (a service's own tests).
	if _, err := (session.Verifier{Key: key, Now: v.Now}).Verify(tok); err != nil {
		t.Errorf("Verify without revocations = %v", err)
	}
}

// BenchmarkVerify is the cost every request pays for its session: the HMAC
// and the claims' JSON (or the cache's lookup instead), and the revocation
// lookup among 100,000 revoked tokens.
func BenchmarkVerify(b *testing.B) {
	revoked := session.NewRevocations()
	for i := range 100_000 {
		revoked.Add(session.Revocation{UserID: "u", TokenID: fmt.Sprint(i), ExpiresAt: now.Add(time.Hour)}, now)
	}
	tok, err := session.Issue(key, user, now, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		cache *session.Cache
	}{{"uncached", nil}, {"cached", session.NewCache(key, session.DefaultCacheSize)}} {
		b.Run(bc.name, func(b *testing.B) {
			v := session.Verifier{Key: key, Now: func() time.Time { return now }, Revoked: revoked, Cache: bc.cache}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// A Verifier with a cache answers a token it verified before without
// verifying it again, yet still refuses it once expired or signed out;
// it never keeps a token that failed, and a cache filled for one key is
// not used by a Verifier of another.
func TestVerifierCache(t *testing.T) {
	t.Parallel()
	clock := now
	revoked := session.NewRevocations()
	cache := session.NewCache(key, 2)
	v := session.Verifier{Key: key, Now: func() time.Time { return clock }, Revoked: revoked, Cache: cache}
	tok, err := session.Issue(key, user, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Again (from the cache): the same token.
	if got, err := v.Verify(tok); err != nil || got != first {
		t.Errorf("second Verify = %+v, %v; want %+v", got, err, first)
	}
	// A cache is for its own key only.
	other := v
	other.Key = []byte("another key, of another deployment")
	if _, err := other.Verify(tok); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Verify with another key sharing the cache = %v, want ErrInvalid", err)
	}

	// A tampered token is not the cached one, and a failure is not kept.
	bad := tok[:len(tok)-2] + "AA"
	for range 2 {
		if _, err := v.Verify(bad); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("Verify of a tampered token = %v, want ErrInvalid", err)
		}
	}

	// Expired: refused, cached or not.
	clock = first.ExpiresAt
	if _, err := v.Verify(tok); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Verify of a cached token at its expiry = %v, want ErrInvalid", err)
	}
	clock = now
	revoked.Add(session.Revocation{UserID: user.ID, TokenID: first.ID, ExpiresAt: first.ExpiresAt}, now)
	if _, err := v.Verify(tok); !errors.Is(err, session.ErrRevoked) {
		t.Errorf("Verify of a cached token signed out = %v, want ErrRevoked", err)
	}

	// Past its bound the cache starts over, and tokens still verify.
	for i := range 5 {
		u := session.User{ID: fmt.Sprint("user-", i), Email: "x@example.com"}
		tok, err := session.Issue(key, u, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got, err := v.Verify(tok); err != nil || got.User != u {
				t.Fatalf("Verify of token %d = %+v, %v", i, got, err)
			}
		}
	}
}

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
	exp := now.Add(time.Hour).Unix()
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	tests := []struct {
		name    string
		key     []byte
		token   string
		want    session.User
		wantErr bool
	}{
		{name: "round trip", key: key, token: issue(key, user, now, time.Hour), want: user},
		{name: "just before expiry", key: key, token: issue(key, user, now.Add(-time.Hour+time.Second), time.Hour), want: user},
		{name: "expired", key: key, token: issue(key, user, now.Add(-2*time.Hour), time.Hour), wantErr: true},
		{name: "wrong key", key: []byte("other-key-0123456789abcdef01234567"), token: issue(key, user, now, time.Hour), wantErr: true},
		{name: "alg none", key: key, token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"u1","exp":%d}`, exp)) + ".", wantErr: true},
		{name: "HS384 with the right key", key: key, token: func() string {
			// Right key, other algorithm: only HS256 is accepted.
			return sign(`{"alg":"HS384","typ":"JWT"}`, fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp), key)
		}(), wantErr: true},
		{name: "hand-made HS256 is valid", key: key, token: sign(hs256, fmt.Sprintf(`{"sub":"u1","email":"a@b.c","exp":%d}`, exp), key), want: user},
		{name: "missing exp", key: key, token: sign(hs256, `{"sub":"u1","email":"a@b.c"}`, key), wantErr: true},
		{name: "missing sub", key: key, token: sign(hs256, fmt.Sprintf(`{"email":"a@b.c","exp":%d}`, exp), key), wantErr: true},
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

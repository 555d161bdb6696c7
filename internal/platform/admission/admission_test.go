package admission_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/session"
)

func TestAdmission(t *testing.T) {
	sessionKey := []byte("0123456789abcdef0123456789abcdef")
	key, err := admission.Key(sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := admission.Issue(key, "u1", "e1", now.Add(admission.TTL))
	if err != nil {
		t.Fatal(err)
	}
	if err := admission.Verify(key, tok, "u1", "e1", now); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, tc := range []struct {
		name          string
		key           []byte
		tok, user, ev string
		at            time.Time
		want          error
	}{
		{"another user", key, tok, "u2", "e1", now, admission.ErrNotYours},
		{"another event", key, tok, "u1", "e2", now, admission.ErrNotYours},
		{"expired", key, tok, "u1", "e1", now.Add(admission.TTL), admission.ErrInvalid},
		{"signed with the session key", sessionKey, tok, "u1", "e1", now, admission.ErrInvalid},
		{"empty", key, "", "u1", "e1", now, admission.ErrInvalid},
		{"garbage", key, "a.b.c", "u1", "e1", now, admission.ErrInvalid},
	} {
		if err := admission.Verify(tc.key, tc.tok, tc.user, tc.ev, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A session token is no admission, even signed with the admissions'
	// key; an admission is no session.
	st, err := session.Issue(key, session.User{ID: "u1"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := admission.Verify(key, st, "u1", "e1", now); !errors.Is(err, admission.ErrInvalid) {
		t.Errorf("a session token passed as an admission: %v", err)
	}
	if _, err := session.Parse(sessionKey, tok, now); err == nil {
		t.Error("an admission passed as a session")
	}
}

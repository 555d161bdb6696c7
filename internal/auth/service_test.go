package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

func TestPasswordHashParams(t *testing.T) {
	h := newHarness(t, Config{})
	u, err := h.svc.SignUp(context.Background(), "192.0.2.1", "Ann@Example.com", "password1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ann@example.com" {
		t.Errorf("email = %q, want normalised", u.Email)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with OWASP parameters", u.PasswordHash)
	}
	p, salt, key, err := argon2id.DecodeHash(u.PasswordHash)
	if err != nil || len(salt) != 16 || len(key) != 32 || p.Memory != 19*1024 || p.Iterations != 2 || p.Parallelism != 1 {
		t.Errorf("hash %q: params %+v, salt %d bytes, key %d bytes (%v)", u.PasswordHash, p, len(salt), len(key), err)
	}
	if _, err := h.svc.SignIn(context.Background(), "192.0.2.1", "ann@example.com", "password1"); err != nil {
		t.Errorf("sign in: %v", err)
	}
}

// With every hasher busy, sign-up and sign-in queue for one, and a caller
// that gives up meanwhile gets its context error back (and nothing is
// stored). That sign-in of an unknown email queues too shows it does the
// same argon2id work as for a real account.
func TestHasherCap(t *testing.T) {
	h := newHarness(t, Config{})
	if _, err := h.svc.SignUp(context.Background(), "192.0.2.1", "ann@example.com", "password1"); err != nil {
		t.Fatal(err)
	}
	n := int64(runtime.GOMAXPROCS(0))
	if err := h.svc.hashers.Acquire(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"sign-up", func(ctx context.Context) error {
			_, err := h.svc.SignUp(ctx, "192.0.2.1", "bob@example.com", "password1")
			return err
		}},
		{"sign-in known email", func(ctx context.Context) error {
			_, err := h.svc.SignIn(ctx, "192.0.2.1", "ann@example.com", "password1")
			return err
		}},
		{"sign-in unknown email", func(ctx context.Context) error {
			_, err := h.svc.SignIn(ctx, "192.0.2.1", "nobody@example.com", "password1")
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.call(ctx) }()
			// TryAcquire(0) fails exactly when someone is waiting for a hasher.
			natsbustest.Eventually(t, 10*time.Second, "a caller queued for a hasher", func() bool { return !h.svc.hashers.TryAcquire(0) })
			cancel()
			err := <-done
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "wait for hasher") {
				t.Errorf("err = %v, want context.Canceled while waiting for a hasher", err)
			}
		})
	}

	h.svc.hashers.Release(n)
	if _, err := h.svc.SignIn(context.Background(), "192.0.2.1", "bob@example.com", "password1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("bob was stored though his sign-up gave up: err = %v", err)
	}
}

func TestNewRefusesEmptyKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with an empty key did not panic")
		}
	}()
	New(nil, nil, nil, Config{})
}

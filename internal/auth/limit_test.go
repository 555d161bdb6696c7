package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(3, 100)
	for i := range 3 {
		if ok, _ := l.take("k", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.take("k", now)
	if ok || wait != 20*time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused for 20s", ok, wait)
	}
	if ok, _ := l.take("other", now); !ok {
		t.Fatal("another key was limited")
	}
	if ok, wait := l.take("k", now.Add(5*time.Second)); ok || wait != 15*time.Second {
		t.Fatalf("after 5s: ok=%v wait=%v, want refused for 15s", ok, wait)
	}
	if ok, _ := l.take("k", now.Add(20*time.Second)); !ok {
		t.Fatal("refused after a token came back")
	}
}

// A refund gives one attempt back; spend records one even when none is
// left, but the bucket never goes into debt.
func TestLimiterRefundAndSpend(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(3, 100)
	for range 3 {
		l.take("k", now)
	}
	l.refund("k", now)
	if ok, _ := l.take("k", now); !ok {
		t.Fatal("refused after a refund")
	}
	for range 5 {
		l.spend("k", now)
	}
	if ok, wait := l.take("k", now); ok || wait != 20*time.Second {
		t.Fatalf("after spending past empty: ok=%v wait=%v, want refused for 20s (no debt)", ok, wait)
	}
	// Refunds never fill past full, nor keep an entry for a full bucket.
	l.refund("other", now)
	for range 5 {
		l.refund("k", now)
	}
	if n := l.len(); n != 0 {
		t.Fatalf("len = %d after refunding everything, want 0", n)
	}
	for i := range 3 {
		if ok, _ := l.take("k", now); !ok {
			t.Fatalf("attempt %d refused after refunds", i+1)
		}
	}
	if ok, _ := l.take("k", now); ok {
		t.Fatal("refunds filled the bucket past its size")
	}
}

func TestLimiterSweep(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, 100)
	for i := range 10 {
		l.take(fmt.Sprint("k", i), now)
	}
	if n := l.len(); n != 10 {
		t.Fatalf("len = %d, want 10", n)
	}
	// A minute later every bucket has refilled: the next take sweeps them.
	l.take("fresh", now.Add(time.Minute))
	if n := l.len(); n != 1 {
		t.Errorf("len after sweep = %d, want 1", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, 5)
	for i := range 50 {
		if ok, _ := l.take(fmt.Sprint("k", i), now); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if n := l.len(); n != 5 {
		t.Errorf("len = %d, want the bound 5", n)
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := addrKey(tc.a); got != tc.b {
			t.Errorf("addrKey(%q) = %q, want %q", tc.a, got, tc.b)
		}
	}
	if addrKey("192.0.2.1") == addrKey("192.0.2.2") {
		t.Error("two IPv4 addresses share a key")
	}
}

package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, 100)
	for i := range 3 {
		if ok, _ := l.Take("k", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.Take("k", now)
	if ok || wait != 20*time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused for 20s", ok, wait)
	}
	if ok, _ := l.Take("other", now); !ok {
		t.Fatal("another key was limited")
	}
	if ok, wait := l.Take("k", now.Add(5*time.Second)); ok || wait != 15*time.Second {
		t.Fatalf("after 5s: ok=%v wait=%v, want refused for 15s", ok, wait)
	}
	if ok, _ := l.Take("k", now.Add(20*time.Second)); !ok {
		t.Fatal("refused after a token came back")
	}
}

// A refund gives one attempt back; spend records one even when none is
// left, but the bucket never goes into debt.
func TestLimiterRefundAndSpend(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, 100)
	for range 3 {
		l.Take("k", now)
	}
	l.Refund("k", now)
	if ok, _ := l.Take("k", now); !ok {
		t.Fatal("refused after a refund")
	}
	for range 5 {
		l.Spend("k", now)
	}
	if ok, wait := l.Take("k", now); ok || wait != 20*time.Second {
		t.Fatalf("after spending past empty: ok=%v wait=%v, want refused for 20s (no debt)", ok, wait)
	}
	// Refunds never fill past full, nor keep an entry for a full bucket.
	l.Refund("other", now)
	for range 5 {
		l.Refund("k", now)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("len = %d after refunding everything, want 0", n)
	}
	for i := range 3 {
		if ok, _ := l.Take("k", now); !ok {
			t.Fatalf("attempt %d refused after refunds", i+1)
		}
	}
	if ok, _ := l.Take("k", now); ok {
		t.Fatal("refunds filled the bucket past its size")
	}
}

func TestLimiterSweep(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(2, 100)
	for i := range 10 {
		l.Take(fmt.Sprint("k", i), now)
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("len = %d, want 10", n)
	}
	// A minute later every bucket has refilled: the next take sweeps them.
	l.Take("fresh", now.Add(time.Minute))
	if n := l.Len(); n != 1 {
		t.Errorf("len after sweep = %d, want 1", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(2, 5)
	for i := range 50 {
		if ok, _ := l.Take(fmt.Sprint("k", i), now); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if n := l.Len(); n != 5 {
		t.Errorf("len = %d, want the bound 5", n)
	}
}

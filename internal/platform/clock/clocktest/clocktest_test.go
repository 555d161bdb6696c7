package clocktest_test

import (
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
)

func TestClock(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	if got := c.Now(); !got.Equal(clocktest.Start) || !c.Now().Equal(clocktest.Start) {
		t.Fatalf("a new clock reads %v, want %v and to stand still", got, clocktest.Start)
	}
	c.Advance(time.Minute)
	if got, want := c.Now(), clocktest.Start.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance(1m) Now = %v, want %v", got, want)
	}

	s := clocktest.Stepping(clocktest.Start, time.Second)
	for i := range 3 {
		if got, want := s.Now(), clocktest.Start.Add(time.Duration(i)*time.Second); !got.Equal(want) {
			t.Fatalf("reading %d = %v, want %v", i, got, want)
		}
	}
}

package auth

import (
	"testing"
)

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

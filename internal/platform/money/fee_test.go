package money

import "testing"

func TestFeeRoundsHalfUp(t *testing.T) {
	t.Parallel()
	ten := FeeRule{Basis: 1000, Fixed: 50}
	for _, c := range []struct {
		rule  FeeRule
		price Cents
		want  Cents
	}{
		{ten, 0, 50},
		{ten, 1, 50},      // 0.1 cent: down
		{ten, 4, 50},      // 0.4: down
		{ten, 5, 51},      // 0.5: up
		{ten, 14, 51},     // 1.4: down
		{ten, 15, 52},     // 1.5: up
		{ten, 2000, 250},  // $20 → $2 + $0.50
		{ten, 2005, 251},  // 200.5: up
		{ten, 2004, 250},  // 200.4: down
		{ten, 9999, 1050}, // 999.9: up
		{FeeRule{Basis: 290, Fixed: 30}, 1000, 59},      // 29 + 30
		{FeeRule{Basis: 290, Fixed: 30}, 50, 31},        // 1.45: down
		{FeeRule{Basis: 290, Fixed: 30}, 5000, 175},     // 145 + 30
		{FeeRule{Basis: 250, Fixed: 0}, 20, 1},          // 0.5: up
		{FeeRule{Basis: 250, Fixed: 0}, 19, 0},          // 0.475: down
		{FeeRule{}, 12345, 0},                           // no fee
		{FeeRule{Basis: 10000, Fixed: 0}, 12345, 12345}, // 100%
		{FeeRule{Basis: 1000, Fixed: 50}, -100, 50},     // never negative
		{FeeRule{Basis: 1000, Fixed: 0}, 100_000_000_00, 10_000_000_00},
	} {
		if got := c.rule.Fee(c.price); got != c.want {
			t.Errorf("%s on %s = %s, want %s", c.rule, c.price, got, c.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10": 1000, "0": 0, "2.9": 290, "2.95": 295, "100": 10000} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "100.01", "2.955", "ten", "1e2"} {
		if _, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) accepted", in)
		}
	}
}

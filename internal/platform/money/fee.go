package money

import (
	"fmt"
	"strings"
)

// FeeRule is the buyer's service fee (DESIGN.md section 9.4): a percent of
// the price plus a fixed amount. Percent is in hundredths of a percent
// (basis points: 10% is 1000, 2.9% is 290), so a rate such as 2.9 is exact.
type FeeRule struct {
	Basis int64 // hundredths of a percent, 0..10000
	Fixed Cents
}

// ParsePercent reads a percent such as "10" or "2.9" (at most two
// decimals, 0 to 100) into hundredths of a percent.
func ParsePercent(s string) (int64, error) {
	v, err := Parse(strings.TrimSpace(s))
	if err != nil || v < 0 || v > 100_00 {
		return 0, fmt.Errorf("want a percent from 0 to 100 with at most two decimals")
	}
	return int64(v), nil
}

// Fee is the service fee on price: price × percent / 100 rounded to the
// cent half up (0.5 of a cent and more goes up, less goes down; prices are
// never negative), plus the fixed amount. It is computed once, when an
// order is made, and kept with the order.
func (r FeeRule) Fee(price Cents) Cents {
	if price < 0 {
		price = 0
	}
	return Cents((int64(price)*r.Basis+5000)/10000) + r.Fixed
}

// String is the rule as people read it: "10% + 0.50".
func (r FeeRule) String() string {
	pct := Cents(r.Basis).String()
	pct = strings.TrimSuffix(strings.TrimRight(pct, "0"), ".")
	return pct + "% + " + r.Fixed.String()
}

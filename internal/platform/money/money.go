// Package money holds amounts as integer cents and converts them to and from
// the API's dollars exactly: "20.10" is 2010 cents, never 2009.9999 through a
// float. Business bounds (what price a ticket may have) belong to the
// services; this package only knows the notation.
package money

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Cents is an amount of money in cents (USD).
type Cents int64

// ErrNotation means the input is not a plain decimal amount with at most two
// decimals.
var ErrNotation = errors.New("money: not an amount with at most two decimals")

// maxDollars keeps parsing far from int64 overflow; services apply their own,
// much lower, bounds.
const maxDollars = 1_000_000_000_000

// Parse reads a decimal amount of dollars such as "20", "20.5" or "20.50".
// Signs are allowed (services reject non-positive amounts with their own
// message); exponents, more than two decimals and anything else are not.
func Parse(s string) (Cents, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 2 {
		return 0, ErrNotation
	}
	if whole == "" {
		whole = "0"
	}
	if !digits(whole) || !digits(frac) {
		return 0, ErrNotation
	}
	d, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || d > maxDollars {
		return 0, ErrNotation
	}
	for len(frac) < 2 {
		frac += "0"
	}
	c, _ := strconv.ParseInt(frac, 10, 64)
	total := Cents(d*100 + c)
	if neg {
		total = -total
	}
	return total, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String renders the amount as dollars with two decimals: "20.50".
func (c Cents) String() string {
	sign := ""
	v := int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	return sign + strconv.FormatInt(v/100, 10) + "." + pad2(v%100)
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// MarshalJSON writes the amount as a JSON number of dollars ("20.5", "20").
func (c Cents) MarshalJSON() ([]byte, error) {
	// TrimRight stops at the dot, so whole-dollar zeros stay.
	return []byte(strings.TrimSuffix(strings.TrimRight(c.String(), "0"), ".")), nil
}

// UnmarshalJSON accepts a JSON number of dollars (20.5) or a decimal string
// ("20.50"), exactly, with at most two decimals.
func (c *Cents) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return ErrNotation
		}
		b = []byte(strings.TrimSpace(s))
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/money"
)

// formatMoney renders cents as US dollars for people: $20.50, $1,250.00.
func formatMoney(c money.Cents) string {
	s := c.String() // exact, two decimals, "-" for negatives
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return sign + "$" + b.String() + "." + frac
}

// priceInput turns what a person typed into the API's decimal notation, or
// returns the problem to show beside the field. People write prices with a decimal comma as well as a
// decimal point, and with thousands separators; the API takes neither (it
// refuses "20,50"), and stripping every comma would list 20,50 at 2050. The
// rule, after a leading "$" and surrounding spaces are dropped:
//
//   - No comma: passed on as typed ("20.50", "1250", "abc"): the API says
//     what is wrong with it, if anything.
//   - One comma followed by one or two digits at the end, only digits before
//     it: a decimal comma. "20,50" and "20,5" are 20.50 and 20.50.
//   - Commas between groups of exactly three digits (the first group has one
//     to three) are thousands separators when they cannot be a decimal
//     comma: before a decimal point ("1,234.50") or two or more of them
//     ("1,234,567").
//   - The European form of the same, dots between groups of three and a
//     decimal comma ("1.234,50"), has one reading too: 1234.50.
//   - One comma before exactly three digits ("1,234") is a thousand to some
//     and a decimal to others: refused, asking for 1234 or 1234.00.
//   - Any other comma is refused.
//
// A sign is kept for the API to refuse with its own message.
func priceInput(s string) (price, problem string) {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimPrefix(s, "$"))
	if !strings.Contains(s, ",") {
		return s, ""
	}
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	comma, dot := strings.LastIndex(s, ","), strings.LastIndex(s, ".")
	switch {
	case dot > comma: // 1,234.50
		if whole, ok := ungroup(s[:dot], ","); ok {
			return sign + whole + s[dot:], ""
		}
	case dot >= 0: // 1.234,50
		whole, ok := ungroup(s[:comma], ".")
		if frac := s[comma+1:]; ok && (len(frac) == 1 || len(frac) == 2) && allDigits(frac) {
			return sign + whole + "." + frac, ""
		}
	case strings.Count(s, ",") == 1:
		whole, frac := s[:comma], s[comma+1:]
		switch {
		case (whole == "" || allDigits(whole)) && (len(frac) == 1 || len(frac) == 2) && allDigits(frac):
			return sign + whole + "." + frac, "" // 20,50
		case len(whole) >= 1 && len(whole) <= 3 && allDigits(whole) && len(frac) == 3 && allDigits(frac):
			return "", fmt.Sprintf("Write %s%s or %s%s.00: the comma in %s could separate thousands or mark the cents.",
				whole, frac, whole, frac, s)
		}
	default: // 1,234,567
		if whole, ok := ungroup(s, ","); ok {
			return sign + whole, ""
		}
	}
	return "", "Write the price as digits with a point or a comma before the cents, e.g. 1234.50 or 1234,50."
}

// ungroup joins digits written in groups of three separated by sep
// ("1,234,567"): the first group has one to three digits, every other
// exactly three. ok is false for anything else.
func ungroup(s, sep string) (digits string, ok bool) {
	groups := strings.Split(s, sep)
	if len(groups) < 2 {
		return "", false
	}
	for i, g := range groups {
		if !allDigits(g) || len(g) > 3 || g == "" || (i > 0 && len(g) != 3) {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isoTime is the machine-readable form of t in a <time datetime>: UTC, RFC
// 3339. The script turns it into the reader's locale.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// humanTime is what a page shows before (or without) the script: UTC.
func humanTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

// minuteUp is t rounded up to the minute: a time shown to the minute
// that something becomes possible at must not be before it.
func minuteUp(t time.Time) time.Time {
	if m := t.Truncate(time.Minute); !m.Equal(t) {
		return m.Add(time.Minute)
	}
	return t
}

// retryAt is when an API answer's Retry-After (in seconds) says trying
// again can succeed, or the zero time when it says nothing.
func retryAt(err error, now time.Time) time.Time {
	var ae *apiError
	if !errors.As(err, &ae) || ae.RetryAfter == "" {
		return time.Time{}
	}
	secs, perr := strconv.Atoi(ae.RetryAfter)
	if perr != nil || secs <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(secs) * time.Second)
}

// clock renders a remaining duration as m:ss (or h:mm:ss), never negative.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64((d + time.Second - 1) / time.Second) // a partial second still counts
	h, m, s := secs/3600, secs/60%60, secs%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return strconv.FormatInt(m, 10) + ":" + fmt.Sprintf("%02d", s)
}

// statusLabel is an order's status in words; an unpaid order past its
// expiry is "Expired" even before the expiration service has cancelled it.
func statusLabel(status, cancelledBy string, expired bool) string {
	switch status {
	case statusCreated, statusAwaitingPayment:
		if expired {
			return "Expired"
		}
		return "Awaiting payment"
	case statusCancelled:
		// Why it ended matters more to the buyer than that it did.
		switch cancelledBy {
		case "expiry":
			return "Expired"
		case "buyer":
			return "Cancelled by you"
		}
		return "Cancelled"
	case statusComplete:
		return "Complete"
	}
	return status
}

// cancelReason says in words why an order was cancelled (its cancelledBy);
// "" for an order cancelled before the reason was kept.
func cancelReason(by string) string {
	switch by {
	case "buyer":
		return "Cancelled by you."
	case "expiry":
		return "Expired: the reservation ran out before it was paid."
	case "price_change":
		return "The seller changed the price before your reservation went through, so this order was cancelled."
	case "ticket_changed":
		return "The seller changed the ticket before your reservation went through, so this order was cancelled."
	case "not_available":
		return "The ticket was no longer available, so this order was cancelled."
	case "":
		return ""
	}
	return "This order was cancelled."
}

// statusClass names the badge style for a status label.
func statusClass(label string) string {
	switch label {
	case "Complete":
		return "badge-ok"
	case "Awaiting payment":
		return "badge-warn"
	}
	return "badge-muted"
}

// orderWhen is what My Orders says of an order beside its status, the one
// moment that matters for it: until when an unpaid order holds its ticket,
// when a paid one was paid, when and why one ended without a sale.
type orderWhen struct {
	// What happened or holds: "Reserved until", "Paid", "Expired", ...
	What string
	// At is the moment; zero when not known (an order that ended before
	// the API kept it).
	At time.Time
	// Why follows the time, for an order that ended without a sale.
	Why string
	// Pay offers the way to pay.
	Pay bool
}

func whenOf(r orderRow) orderWhen {
	switch {
	case r.Status == statusComplete:
		return orderWhen{What: "Paid", At: r.PaidAt}
	case r.Status != statusCancelled && r.Expired,
		r.Status == statusCancelled && r.CancelledBy == "expiry":
		// The reservation ran out at expiresAt; the cancellation that
		// follows comes a moment later.
		return orderWhen{What: "Expired", At: r.ExpiresAt, Why: "not paid in time"}
	case r.Status != statusCancelled:
		return orderWhen{What: "Reserved until", At: r.ExpiresAt, Pay: true}
	}
	w := orderWhen{What: "Cancelled", At: r.CancelledAt}
	switch r.CancelledBy {
	case "buyer":
		w.What = "Cancelled by you"
	case "price_change":
		w.Why = "the seller changed the price first"
	case "ticket_changed":
		w.Why = "the seller changed the ticket first"
	case "not_available":
		w.Why = "the ticket was no longer available"
	}
	if r.PaymentID != "" {
		if w.Why != "" {
			w.Why += "; "
		}
		w.Why += "your payment is being refunded"
	}
	return w
}

// zonedTime is a moment as an event page shows it: in the event's zone,
// always named, and (through the template "when") in the reader's.
type zonedTime struct {
	At time.Time
	// Local is At in the event's zone, its abbreviation included:
	// "Sat 6 Jun 2030, 20:00 CEST".
	Local string
	// Zone is the event's IANA zone, "Europe/Amsterdam"; Named says
	// whether Local's abbreviation leaves it unsaid (not so for "UTC").
	Zone  string
	Named bool
}

// zoned is t in the IANA zone (the template function "zoned"). A zone
// this build cannot load (the API accepted it, so only a newer tz
// database would know it) is shown as UTC, and says so.
func zoned(t time.Time, zone string) zonedTime {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc, zone = time.UTC, "UTC"
	}
	local := t.In(loc)
	abbr, _ := local.Zone()
	return zonedTime{At: t, Local: local.Format("Mon 2 Jan 2006, 15:04 ") + abbr, Zone: zone, Named: abbr != zone}
}

// localInput is t in zone as a datetime-local field holds it:
// "2030-06-06T20:00".
func localInput(t time.Time, zone string) string {
	if t.IsZero() {
		return ""
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02T15:04")
}

// localTimeLayouts are how a time is typed in the event form: a
// datetime-local field's value, with or without seconds, and the same with
// a space (a browser without a date picker shows a text box).
var localTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// parseLocal reads a time typed in the event's zone loc. ok is false when
// s is none of localTimeLayouts. A time the zone skips (a spring-forward
// gap) is moved on by the gap, as Go's time.Date does.
func parseLocal(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range localTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

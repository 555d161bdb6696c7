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

// priceInput turns what a person typed into the API's decimal notation:
// "$1,250.5" is "1250.5". What is still not a number is passed on as typed,
// so the API's message about it is the one shown.
func priceInput(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	s = strings.ReplaceAll(s, ",", "")
	return strings.TrimSpace(s)
}

// isoTime is the machine-readable form of t in a <time datetime>: UTC, RFC
// 3339. The script turns it into the reader's locale.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// humanTime is what a page shows before (or without) the script: UTC.
func humanTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

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

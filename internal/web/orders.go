package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The order pages: the buyer's orders, one order with its payment form,
// paying and cancelling.

type orderRow struct {
	order
	Label   string
	Expired bool
	// Reason is why a cancelled order was cancelled, in words.
	Reason string
}

func (s *Service) row(o order) orderRow {
	open := o.Status == statusCreated || o.Status == statusAwaitingPayment
	expired := open && !s.cfg.Now().Before(o.ExpiresAt)
	r := orderRow{order: o, Label: statusLabel(o.Status, o.CancelledBy, expired), Expired: expired}
	if o.Refund == refundRefunded && o.Status == statusComplete {
		r.Label = "Refunded" // a paid order of a cancelled event
	}
	if o.Status == statusCancelled {
		r.Reason = cancelReason(o.CancelledBy)
	}
	return r
}

// refundRefunded is an order's refund once done (the API's refund).
const refundRefunded = "refunded"

type ordersData struct{ Orders []orderRow }

func (s *Service) handleOrderList(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "My orders", "orders")
	if !ok {
		return
	}
	list, err := s.api.Orders(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]orderRow, len(list))
	for i, o := range list {
		rows[i] = s.row(o)
	}
	v.Data = ordersData{Orders: rows}
	s.render(w, r, http.StatusOK, "orders", v)
}

// testCard is one of the sandbox's test cards, as the pay form lists them.
type testCard struct {
	Token, Label, Outcome string
	OK                    bool
}

func sandboxCards() []testCard {
	return []testCard{
		{Token: "tok_visa", Label: "Visa ending 4242", Outcome: "payment succeeds", OK: true},
		{Token: "tok_chargeDeclined", Label: "Visa ending 0002", Outcome: "card is declined", OK: false},
	}
}

type orderData struct {
	Order    orderRow
	Payable  bool
	Left     string // the countdown's first value, m:ss
	ServerAt string // the server's clock, so the script can correct a skewed one
	Cards    []testCard
	// TicketStatus is the ticket's status now, for an order that ended
	// unpaid ("" when unknown); TryAgain says the buyer may order it again,
	// TryAgainAt (non-zero) that they may from then on, their re-reserve
	// pause holding until then.
	TicketStatus string
	TryAgain     bool
	TryAgainAt   time.Time
}

func (s *Service) handleOrderShow(w http.ResponseWriter, r *http.Request) {
	v, ok := s.beginSignedIn(w, r, "Your order", "orders")
	if !ok {
		return
	}
	o, err := s.api.Order(r, r.PathValue("id"))
	if err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			// Someone else's order: say no more than for an unknown one.
			s.notFound(w, r)
			return
		}
		s.fail(w, r, err)
		return
	}
	if v.Form == nil {
		v.Form = newForm(url.Values{"token": {"tok_visa"}})
	}
	now := s.cfg.Now()
	row := s.row(o)
	d := orderData{
		Order:    row,
		Payable:  (o.Status == statusCreated || o.Status == statusAwaitingPayment) && !row.Expired,
		Left:     clock(o.ExpiresAt.Sub(now)),
		ServerAt: isoTime(now),
		Cards:    sandboxCards(),
	}
	if (o.Status == statusCancelled || row.Expired) && o.Ticket.EventID == "" {
		// Ended unpaid: whether the buyer can try again depends on the
		// ticket now. A ticket the page cannot read is simply not offered.
		// (A ticket of an event is bought again from the event's page,
		// which the order links: any of its tickets will do.)
		if t, err := s.api.Ticket(r, o.Ticket.ID); err == nil {
			d.TicketStatus = t.Status
			if t.Status == "on_sale" && t.UserID != v.User.ID {
				// The API says when the pause this order started ends;
				// before then a reservation would only be refused.
				if now.Before(o.ReserveAgainAt) {
					d.TryAgainAt = minuteUp(o.ReserveAgainAt)
				} else {
					d.TryAgain = true
				}
			}
		}
	}
	v.Data = d
	v.Scripts = []string{s.asset("countdown.js")}
	if s.cfg.StripePublishableKey != "" {
		v.Stripe = s.cfg.StripePublishableKey
		v.Scripts = append(v.Scripts, "https://js.stripe.com/v3/", s.asset("stripe.js"))
	}
	s.render(w, r, http.StatusOK, "order", v)
}

func (s *Service) handleOrderPay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	page := "/orders/" + url.PathEscape(id)
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		f := newForm(nil)
		f.Errors["token"] = "Choose a card to pay with."
		s.redirect(w, r, page, "", f)
		return
	}
	// Payments learns of the order from an event: right after the purchase
	// it may not know it yet.
	err := s.untilKnown(r,
		func() error { return s.api.Pay(r, id, token) },
		func() bool {
			_, err := s.api.Order(r, id)
			return err == nil
		})
	switch st, code := statusOf(err), errorCode(err); {
	case err == nil, code == "order_paid":
		// Charged; or paid by an earlier submission of the same form, and
		// this one lands where that one did.
		s.afterPayment(w, r, id, "paying")
	case code == "payment_in_progress":
		// The form sent again while an earlier submission is charging:
		// wait for that one's outcome rather than call it an error.
		s.afterPayment(w, r, id, "processing")
	case st == http.StatusBadRequest || st == http.StatusPaymentRequired:
		f := newForm(nil)
		if st == http.StatusBadRequest {
			// A declined card is not offered again as the choice.
			f.Values.Set("token", token)
		}
		f.addAPIError(err, "token")
		s.redirect(w, r, page, "", f)
	case st == http.StatusNotFound:
		// The order exists (or the order page is the 404 page) but
		// payments has not heard of it yet.
		f := newForm(url.Values{"token": {token}})
		f.General = append(f.General, "This order was placed a moment ago and is not ready for payment yet. Please try again in a few seconds.")
		s.redirect(w, r, page, "", f)
	case st == http.StatusUnauthorized && s.signedIn(r):
		// Someone else's order: its page says no more than for an
		// unknown one.
		seeOther(w, r, page)
	default:
		s.fail(w, r, err)
	}
}

// afterPayment sends the buyer where the payment's outcome is told. Only a
// complete order means the ticket is theirs: an order cancelled meanwhile
// (the payment came after the expiry, or the seller's edit overtook the
// reservation) has its payment refunded, and the buyer must hear that
// instead. While orders has not settled it yet, the order page says
// pending (a flashText name).
func (s *Service) afterPayment(w http.ResponseWriter, r *http.Request, id, pending string) {
	page := "/orders/" + url.PathEscape(id)
	switch s.awaitSettled(r, id) {
	case statusComplete:
		s.redirect(w, r, "/orders", "paid", nil)
	case statusCancelled:
		s.redirect(w, r, page, "refunded", nil)
	default:
		s.redirect(w, r, page, pending, nil)
	}
}

// awaitSettled waits, briefly, until orders has applied the payment, and
// returns the order's status then: complete, or cancelled when the payment
// came too late (it is refunded). If it takes longer, it returns the
// status of the moment (or "" when the order cannot be read), and the
// page shows the truth of the moment.
func (s *Service) awaitSettled(r *http.Request, orderID string) string {
	var status string
	poll(r, 5*time.Second, 50*time.Millisecond, 500*time.Millisecond, func() bool {
		o, err := s.api.Order(r, orderID)
		if err != nil {
			status = ""
			return true
		}
		status = o.Status
		return status == statusComplete || status == statusCancelled
	})
	return status
}

func (s *Service) handleOrderCancel(w http.ResponseWriter, r *http.Request) {
	page := "/orders/" + url.PathEscape(r.PathValue("id"))
	err := s.api.CancelOrder(r, r.PathValue("id"))
	switch st := statusOf(err); {
	case err == nil:
		s.redirect(w, r, "/orders", "cancelled", nil)
	case st == http.StatusBadRequest:
		f := newForm(nil)
		f.addAPIError(err)
		s.redirect(w, r, page, "", f)
	case st == http.StatusUnauthorized && s.signedIn(r):
		seeOther(w, r, page) // someone else's order: its page is the 404 page
	default:
		s.fail(w, r, err)
	}
}

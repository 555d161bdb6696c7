package events

const SubjectPaymentCreated Subject = "payment.created"

// PaymentCreated is published by payments after a successful charge.
type PaymentCreated struct {
	ID       string `json:"id"`
	OrderID  string `json:"orderId"`
	StripeID string `json:"stripeId"`
}

func (PaymentCreated) Subject() Subject { return SubjectPaymentCreated }

// SubjectPaymentRefunded is published by payments when it has given a
// payment back (order.refund_requested), in the transaction that records
// the refund in its ledger: once per payment.
const SubjectPaymentRefunded Subject = "payment.refunded"

// PaymentRefunded says the payment ID of order OrderID was refunded in
// full: Amount cents, the price and the service fee.
type PaymentRefunded struct {
	ID      string `json:"id"`
	OrderID string `json:"orderId"`
	Amount  int64  `json:"amount"`
}

func (PaymentRefunded) Subject() Subject { return SubjectPaymentRefunded }

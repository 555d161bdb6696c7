package events

const (
	SubjectPaymentCreated  Subject = "payment.created"
	SubjectPaymentDisputed Subject = "payment.disputed"
)

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

// PaymentDisputed is published by payments when the buyer disputes a
// charge with their bank (Stripe's charge.dispute.created, DESIGN.md
// 9.4): tickets voids the code of the ticket the order bought if its buyer
// still holds it. ID is the provider's dispute id, PaymentID the payment,
// ChargeID the provider's id of the charge (the payment's stripeId),
// UserID the order's buyer.
type PaymentDisputed struct {
	ID        string `json:"id"`
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
	UserID    string `json:"userId"`
	ChargeID  string `json:"chargeId"`
}

func (PaymentDisputed) Subject() Subject { return SubjectPaymentDisputed }

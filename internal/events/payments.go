package events

const SubjectPaymentCreated Subject = "payment.created"

// PaymentCreated is published by payments after a successful charge.
type PaymentCreated struct {
	ID       string `json:"id"`
	OrderID  string `json:"orderId"`
	StripeID string `json:"stripeId"`
}

func (PaymentCreated) Subject() Subject { return SubjectPaymentCreated }

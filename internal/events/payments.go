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

// SubjectPayoutDue starts a payout run in payments: a JetStream message
// schedule fires it at an event's end plus the payout hold (one schedule
// per event, PayoutScheduleSubject), and a repeating one (the sweep,
// PayoutSweepSubject) fires it with no event for free-form listings'
// sales, sellers who connected an account late, and runs cut short. An
// operator may publish one by hand; a run pays only what is due, once.
const SubjectPayoutDue Subject = "payout.due"

// PayoutDue asks payments to pay out what is due: of the event EventID,
// or of every sale when EventID is empty.
type PayoutDue struct {
	EventID string `json:"eventId,omitempty"`
}

func (PayoutDue) Subject() Subject { return SubjectPayoutDue }

// PayoutScheduleSubjectPrefix starts every subject of a payout schedule.
const PayoutScheduleSubjectPrefix = "payout.schedule."

// PayoutScheduleSubject is where payments keeps the one pending payout
// schedule of an event: publishing to it again (the event moved) replaces
// the schedule, as the server keeps one per subject.
func PayoutScheduleSubject(eventID string) Subject {
	return PayoutScheduleSubjectPrefix + "event." + eventID
}

// PayoutSweepSubject holds the repeating payout schedule.
const PayoutSweepSubject Subject = PayoutScheduleSubjectPrefix + "sweep"

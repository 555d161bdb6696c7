package events

const SubjectExpirationComplete Subject = "expiration.complete"

// ExpirationComplete is published when an order's reservation window ends.
type ExpirationComplete struct {
	OrderID string `json:"orderId"`
}

func (ExpirationComplete) Subject() Subject { return SubjectExpirationComplete }

// ScheduleSubject is where the expiration service keeps the one pending
// schedule of an order (a JetStream message schedule targeting
// expiration.complete). Publishing again to it replaces the schedule, so a
// redelivered order.created schedules once.
func ScheduleSubject(orderID string) Subject { return ScheduleSubjectPrefix + orderID }

// ScheduleSubjectPrefix starts every ScheduleSubject.
const ScheduleSubjectPrefix = "expiration.schedule."

// ScheduledBy lists the events a message schedule may fire, each with the
// prefix of the schedule subjects allowed to fire it: expiration.complete
// from expiration's jobs, payout.due from payments' payout schedules,
// nothing else. Listeners terminate any other
// message a schedule fired (the server does not check who may publish a
// schedule's target).
var ScheduledBy = map[Subject]string{
	SubjectExpirationComplete: ScheduleSubjectPrefix,
	SubjectPayoutDue:          PayoutScheduleSubjectPrefix,
}

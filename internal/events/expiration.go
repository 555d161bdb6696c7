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
func ScheduleSubject(orderID string) Subject { return "expiration.schedule." + orderID }

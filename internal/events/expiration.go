package events

const SubjectExpirationComplete Subject = "expiration.complete"

// ExpirationComplete is published when an order's reservation window ends.
type ExpirationComplete struct {
	OrderID string `json:"orderId"`
}

func (ExpirationComplete) Subject() Subject { return SubjectExpirationComplete }

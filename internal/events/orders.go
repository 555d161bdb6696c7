package events

import "time"

const (
	SubjectOrderCreated   Subject = "order.created"
	SubjectOrderCancelled Subject = "order.cancelled"
	SubjectOrderCompleted Subject = "order.completed"
)

// OrderStatus is the state of an order, as the orders service names it.
type OrderStatus string

const (
	StatusCreated         OrderStatus = "created"
	StatusCancelled       OrderStatus = "cancelled"
	StatusAwaitingPayment OrderStatus = "awaiting:payment"
	StatusComplete        OrderStatus = "complete"
)

// OrderTicket is the part of a ticket an order event carries.
type OrderTicket struct {
	ID    string `json:"id"`
	Price int64  `json:"price,omitempty"` // cents; only in order.created
	// Version is the version of the ticket the order reserved (the one its
	// Price is from); only in order.created. tickets refuses the
	// reservation when the seller has edited the ticket since. It is a
	// pointer because 0 is a real version and an order.created from before
	// the field existed has none.
	Version *int64 `json:"version,omitempty"`
}

// OrderCreated is published by orders when a buyer reserves a ticket.
type OrderCreated struct {
	ID        string      `json:"id"`
	Version   int64       `json:"version"`
	Status    OrderStatus `json:"status"`
	UserID    string      `json:"userId"`
	ExpiresAt time.Time   `json:"expiresAt"`
	Ticket    OrderTicket `json:"ticket"`
	// Fee is the buyer's service fee and Total the price plus the fee
	// (cents): what payments charges. Pointers: 0 is a real fee, and an
	// order.created from before the fields existed has neither (its
	// buyer is charged the price alone).
	Fee   *int64 `json:"fee,omitempty"`
	Total *int64 `json:"total,omitempty"`
	// SellerID is whose ticket it is (the ticket's userId when
	// reserved), Payee whose proceeds the price is: PayeeOrganizer for an
	// event's ticket bought from its organizer, PayeeSeller otherwise.
	// Both absent from an order.created from before the fields existed.
	SellerID string `json:"sellerId,omitempty"`
	Payee    string `json:"payee,omitempty"`
	// EventID is the event of an issued ticket, absent for a free-form
	// listing (and from an order.created from before the field existed):
	// payments holds the proceeds until that event's end plus PAYOUT_HOLD.
	EventID string `json:"eventId,omitempty"`
}

// Whose proceeds an order's price is (order.created's payee).
const (
	PayeeSeller    = "seller"
	PayeeOrganizer = "organizer"
)

// OrderCancelled is published by orders when an order is cancelled by its
// buyer, expires, or is refused by tickets; the ticket goes back on sale.
type OrderCancelled struct {
	ID      string      `json:"id"`
	Version int64       `json:"version"`
	Ticket  OrderTicket `json:"ticket"`
	// CancelledBy says why: CancelledByBuyer, CancelledByExpiry, or the
	// reason of a ticket.reservation_refused.
	CancelledBy string `json:"cancelledBy,omitempty"`
}

// Why an order was cancelled: order.cancelled's cancelledBy and the order's
// cancelledBy in the API. A refused reservation uses the refusal's reason
// (RefusedPriceChange, ...).
const (
	CancelledByBuyer  = "buyer"
	CancelledByExpiry = "expiry"
	// CancelledByEventCancelled: the organizer cancelled the ticket's
	// event before the order was paid. Also the reason of a
	// ticket.reservation_refused for a ticket of a cancelled event.
	CancelledByEventCancelled = "event_cancelled"
)

// OrderCompleted is published by orders when an order is paid: tickets
// marks the ticket sold.
type OrderCompleted struct {
	ID      string      `json:"id"`
	Version int64       `json:"version"`
	UserID  string      `json:"userId"`
	Ticket  OrderTicket `json:"ticket"`
}

func (OrderCreated) Subject() Subject   { return SubjectOrderCreated }
func (OrderCancelled) Subject() Subject { return SubjectOrderCancelled }
func (OrderCompleted) Subject() Subject { return SubjectOrderCompleted }

// SubjectOrderRefundRequested is published by orders when a payment arrives
// for an order that was already cancelled (the payment raced the expiry):
// the buyer did not get the ticket, so payments must give the money back.
const SubjectOrderRefundRequested Subject = "order.refund_requested"

// OrderRefundRequested asks payments to refund the payment of an order.
type OrderRefundRequested struct {
	OrderID   string `json:"orderId"`
	PaymentID string `json:"paymentId"`
	StripeID  string `json:"stripeId"`
}

func (OrderRefundRequested) Subject() Subject { return SubjectOrderRefundRequested }

package orders_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
)

func TestOrderCancel(t *testing.T) {
	tests := []struct {
		from        orders.Status
		wantErr     error
		wantStatus  orders.Status
		wantVersion int64
	}{
		{orders.StatusCreated, nil, orders.StatusCancelled, 4},
		{orders.StatusAwaitingPayment, nil, orders.StatusCancelled, 4},
		{orders.StatusCancelled, orders.ErrAlreadyCancelled, orders.StatusCancelled, 3},
		{orders.StatusComplete, orders.ErrOrderComplete, orders.StatusComplete, 3},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			t.Parallel()
			o := orders.Order{ID: "o1", Status: tt.from, Version: 3, Ticket: orders.Ticket{ID: "t1"}}
			if err := o.Cancel(events.CancelledByBuyer); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Cancel() = %v, want %v", err, tt.wantErr)
			}
			wantBy := ""
			if tt.wantErr == nil {
				wantBy = events.CancelledByBuyer
			}
			if o.Status != tt.wantStatus || o.Version != tt.wantVersion || o.CancelledBy != wantBy {
				t.Errorf("after Cancel: %s v%d by %q, want %s v%d by %q", o.Status, o.Version, o.CancelledBy, tt.wantStatus, tt.wantVersion, wantBy)
			}
		})
	}
}

func TestNewOrderEvents(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	o := orders.NewOrder("u1", orders.Ticket{ID: "t1", Title: "Show", Price: 2050, Version: 2}, now, 15*time.Minute)
	if o.ID == "" || o.Status != orders.StatusCreated || o.Version != 0 {
		t.Fatalf("new order = %+v", o)
	}
	wantExp := time.Date(2030, 1, 2, 2, 19, 5, 123000000, time.UTC)
	if !o.ExpiresAt.Equal(wantExp) || o.ExpiresAt.Location() != time.UTC {
		t.Errorf("expiresAt = %v, want %v (UTC, milliseconds)", o.ExpiresAt, wantExp)
	}
	c := o.Created()
	if c.ID != o.ID || c.Version != 0 || c.Status != events.StatusCreated || c.UserID != "u1" ||
		!c.ExpiresAt.Equal(wantExp) || c.Ticket.ID != "t1" || c.Ticket.Price != 2050 || c.Ticket.Version == nil || *c.Ticket.Version != 2 {
		t.Errorf("order.created = %+v, want the ticket's price and version 2", c)
	}
	if err := o.Cancel(events.CancelledByExpiry); err != nil {
		t.Fatal(err)
	}
	want := events.OrderCancelled{ID: o.ID, Version: 1, Ticket: events.OrderTicket{ID: "t1"}, CancelledBy: events.CancelledByExpiry}
	if got := o.Cancelled(); !reflect.DeepEqual(got, want) {
		t.Errorf("order.cancelled = %+v, want %+v", got, want)
	}
}

func TestOrderRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		order       orders.Order
		want        orders.RefusalOutcome
		wantBy      string
		wantVersion int64
	}{
		{"created is cancelled", orders.Order{Status: orders.StatusCreated, Version: 0}, orders.RefusalCancelled, events.RefusedPriceChange, 1},
		{"awaiting payment is cancelled", orders.Order{Status: orders.StatusAwaitingPayment, Version: 2}, orders.RefusalCancelled, events.RefusedPriceChange, 3},
		{"paid meanwhile is cancelled and refunded", orders.Order{Status: orders.StatusComplete, Version: 1, PaymentID: "p1"}, orders.RefusalRefund, events.RefusedPriceChange, 2},
		{"cancelled by the buyer stays so", orders.Order{Status: orders.StatusCancelled, Version: 1, CancelledBy: events.CancelledByBuyer}, orders.RefusalIgnored, events.CancelledByBuyer, 1},
		{"refused before stays so", orders.Order{Status: orders.StatusCancelled, Version: 1, CancelledBy: events.RefusedPriceChange}, orders.RefusalIgnored, events.RefusedPriceChange, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.order
			if got := o.Refuse(events.RefusedPriceChange); got != tt.want {
				t.Errorf("Refuse = %v, want %v", got, tt.want)
			}
			if o.Status != orders.StatusCancelled || o.CancelledBy != tt.wantBy || o.Version != tt.wantVersion || o.PaymentID != tt.order.PaymentID {
				t.Errorf("order = %+v, want cancelled by %s v%d", o, tt.wantBy, tt.wantVersion)
			}
		})
	}
}

// TestOrderReserveAgainAt: only an order the buyer cancelled or let
// expire pauses their reserving its ticket again, for one window from
// when it ended; the pause is the one Holds.Allow enforces.
func TestOrderReserveAgainAt(t *testing.T) {
	t.Parallel()
	const window = 15 * time.Minute
	ended := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		order orders.Order
		want  time.Time
	}{
		{"cancelled by the buyer", orders.Order{Status: orders.StatusCancelled, CancelledBy: events.CancelledByBuyer, EndedAt: ended}, ended.Add(window)},
		{"expired", orders.Order{Status: orders.StatusCancelled, CancelledBy: events.CancelledByExpiry, EndedAt: ended}, ended.Add(window)},
		{"refused for a price change", orders.Order{Status: orders.StatusCancelled, CancelledBy: events.RefusedPriceChange, EndedAt: ended}, time.Time{}},
		{"cancelled before the time was kept", orders.Order{Status: orders.StatusCancelled, CancelledBy: events.CancelledByBuyer}, time.Time{}},
		{"unpaid", orders.Order{Status: orders.StatusCreated}, time.Time{}},
		{"paid", orders.Order{Status: orders.StatusComplete, EndedAt: ended}, time.Time{}},
	}
	limits := orders.Limits{MaxPending: 10, MaxPerAddress: 10, Window: window}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.order.ReserveAgainAt(window)
			if !got.Equal(tt.want) {
				t.Fatalf("ReserveAgainAt = %v, want %v", got, tt.want)
			}
			if got.IsZero() {
				return
			}
			// The same time Allow refuses until and lets through at.
			h := orders.Holds{LastCancelled: tt.order.EndedAt}
			if err := h.Allow(got.Add(-time.Millisecond), limits); !errors.Is(err, orders.ErrReleasedRecently) {
				t.Errorf("Allow just before = %v, want ErrReleasedRecently", err)
			}
			if err := h.Allow(got, limits); err != nil {
				t.Errorf("Allow at ReserveAgainAt = %v", err)
			}
		})
	}
}

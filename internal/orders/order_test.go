package orders_test

import (
	"errors"
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
			if err := o.Cancel(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Cancel() = %v, want %v", err, tt.wantErr)
			}
			if o.Status != tt.wantStatus || o.Version != tt.wantVersion {
				t.Errorf("after Cancel: %s v%d, want %s v%d", o.Status, o.Version, tt.wantStatus, tt.wantVersion)
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
		!c.ExpiresAt.Equal(wantExp) || c.Ticket != (events.OrderTicket{ID: "t1", Price: 2050}) {
		t.Errorf("order.created = %+v", c)
	}
	if err := o.Cancel(); err != nil {
		t.Fatal(err)
	}
	if got, want := o.Cancelled(), (events.OrderCancelled{ID: o.ID, Version: 1, Ticket: events.OrderTicket{ID: "t1"}}); got != want {
		t.Errorf("order.cancelled = %+v, want %+v", got, want)
	}
}

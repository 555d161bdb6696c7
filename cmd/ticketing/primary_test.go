package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// publishOnBus puts ev on the app's bus, as the events part would.
func publishOnBus(t *testing.T, app *App, ev events.Event) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.bus.PublishBatch(ctx, []natsbus.Outgoing{{ID: uuid.NewString(), Subject: ev.Subject(), Data: data}})[0]; err != nil {
		t.Fatal(err)
	}
}

type issuedJSON struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	EventID     string `json:"eventId"`
	UserID      string `json:"userId"`
	HeldByYou   bool   `json:"heldByYou"`
	CodeVersion int64  `json:"codeVersion"`
}

type eventOrderJSON struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	CancelledBy    string `json:"cancelledBy"`
	EventCancelled bool   `json:"eventCancelled"`
	Notice         string `json:"notice"`
	Ticket         struct {
		ID      string  `json:"id"`
		Price   float64 `json:"price"`
		EventID string  `json:"eventId"`
	} `json:"ticket"`
}

// TestUpPrimarySale is the primary sale through `up`: an event.created on
// the bus issues the event's tickets (not listed), a buyer reserves one by
// the event's id at face value, pays, and holds the ticket; the event's
// cancellation then cancels another buyer's unpaid order, voids the held
// ticket and tells the payer their refund is pending (or, a moment later,
// done: TestUpEventCancelRefunds).
func TestUpPrimarySale(t *testing.T) {
	t.Parallel()
	base, app := startUp(t, t.TempDir(), nil)
	organizer := signUp(t, base, "organizer@example.com")
	var me currentUser
	organizer.do("GET", "/api/users/currentuser", nil, &me)
	buyer := signUp(t, base, "buyer@example.com")
	other := signUp(t, base, "other@example.com")

	ev := events.EventState{
		ID: uuid.NewString(), OrganizerID: me.CurrentUser.ID, Name: "Night Opera", Venue: "Royal Hall",
		TimeZone: "Europe/Amsterdam", StartsAt: time.Now().Add(30 * 24 * time.Hour), OnSaleAt: time.Now().Add(-time.Minute),
		FaceValue: 4500, Capacity: 3, ResaleCapPercent: 100, Status: events.EventStatusScheduled,
	}
	ev.EndsAt = ev.StartsAt.Add(3 * time.Hour)
	publishOnBus(t, app, events.EventCreated{EventState: ev})

	var order eventOrderJSON
	natsbustest.Eventually(t, 10*time.Second, "orders knows the event's tickets", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &order) == http.StatusCreated
	})
	if order.Ticket.EventID != ev.ID || order.Ticket.Price != 45 || order.Status != "created" {
		t.Fatalf("order = %+v, want a ticket of the event at 45", order)
	}
	var list []ticketJSON
	buyer.do("GET", "/api/tickets", nil, &list)
	if len(list) != 0 {
		t.Errorf("GET /api/tickets = %d tickets, want none (an event's stock is not a listing)", len(list))
	}
	if got := organizer.do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, nil); got != http.StatusBadRequest {
		t.Errorf("the organizer's order = %d, want 400", got)
	}

	natsbustest.Eventually(t, 10*time.Second, "the payment is taken", func() bool {
		return buyer.do("POST", "/api/payments", map[string]string{"orderId": order.ID, "token": "tok_visa"}, nil) == http.StatusCreated
	})
	var held issuedJSON
	natsbustest.Eventually(t, 10*time.Second, "the buyer holds the ticket", func() bool {
		buyer.do("GET", "/api/tickets/"+order.Ticket.ID, nil, &held)
		return held.Status == "held"
	})
	if !held.HeldByYou || held.CodeVersion != 1 || held.EventID != ev.ID {
		t.Fatalf("held ticket to its holder = %+v", held)
	}
	var seen issuedJSON
	other.do("GET", "/api/tickets/"+order.Ticket.ID, nil, &seen)
	if seen.HeldByYou || seen.CodeVersion != 0 || seen.Status != "held" {
		t.Errorf("held ticket to someone else = %+v", seen)
	}
	var mine []issuedJSON
	buyer.do("GET", "/api/tickets/mine", nil, &mine)
	if len(mine) != 1 || mine[0].ID != order.Ticket.ID {
		t.Errorf("buyer's /api/tickets/mine = %+v, want the held ticket", mine)
	}
	organizer.do("GET", "/api/tickets/mine", nil, &mine)
	if len(mine) != 0 {
		t.Errorf("organizer's /api/tickets/mine = %d tickets, want none", len(mine))
	}

	var unpaid eventOrderJSON
	if got := other.do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &unpaid); got != http.StatusCreated {
		t.Fatalf("second buyer = %d", got)
	}
	// Once tickets has reserved it (ticket.updated with the order), the
	// cancellation withdraws it with its order on it.
	natsbustest.Eventually(t, 10*time.Second, "the second ticket reserved", func() bool {
		var tk ticketJSON
		other.do("GET", "/api/tickets/"+unpaid.Ticket.ID, nil, &tk)
		return tk.OrderID == unpaid.ID
	})
	ev.Version, ev.Status = 1, events.EventStatusCancelled
	publishOnBus(t, app, events.EventCancelled{EventState: ev})

	natsbustest.Eventually(t, 10*time.Second, "the unpaid order cancelled as event_cancelled", func() bool {
		var o eventOrderJSON
		other.do("GET", "/api/orders/"+unpaid.ID, nil, &o)
		return o.Status == "cancelled" && o.CancelledBy == events.CancelledByEventCancelled
	})
	natsbustest.Eventually(t, 10*time.Second, "the paid order says its refund is pending or done", func() bool {
		var o eventOrderJSON
		buyer.do("GET", "/api/orders/"+order.ID, nil, &o)
		return o.Status == "complete" && o.EventCancelled &&
			(o.Notice == "Event cancelled — refund pending" || o.Notice == "Event cancelled — refunded $50.00")
	})
	buyer.do("GET", "/api/tickets/"+order.Ticket.ID, nil, &held)
	if held.Status != "void" || held.CodeVersion != 2 {
		t.Errorf("held ticket after the cancellation = %+v, want void, code version 2", held)
	}
	var refused struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if got := signUp(t, base, "late@example.com").do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &refused); got != http.StatusConflict ||
		len(refused.Errors) != 1 || refused.Errors[0].Code != "event_cancelled" {
		t.Errorf("an order after the cancellation = %d %+v, want 409 event_cancelled", got, refused)
	}
}

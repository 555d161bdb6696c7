package events_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
)

// TestContracts pins every payload to the shape DESIGN.md section 4 gives,
// and every subject to one of the streams.
func TestContracts(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v0, v3 := int64(0), int64(3)
	notBefore := expires.Add(-24 * time.Hour)
	tests := []struct {
		ev      events.Event
		subject events.Subject
		want    string
	}{
		{events.TicketCreated{ID: "t", Version: 0, Title: "x", Price: 2050, UserID: "u"}, "ticket.created",
			`{"id":"t","version":0,"title":"x","price":2050,"userId":"u"}`},
		{events.TicketUpdated{ID: "t", Version: 1, Title: "x", Price: 2050, UserID: "u", OrderID: "o"}, "ticket.updated",
			`{"id":"t","version":1,"title":"x","price":2050,"userId":"u","orderId":"o"}`},
		{events.TicketUpdated{ID: "t", Version: 2, Title: "x", Price: 2050, UserID: "u"}, "ticket.updated",
			`{"id":"t","version":2,"title":"x","price":2050,"userId":"u"}`},
		{events.OrderCreated{ID: "o", Version: 0, Status: events.StatusCreated, UserID: "u", ExpiresAt: expires, Ticket: events.OrderTicket{ID: "t", Price: 2050, Version: &v3}}, "order.created",
			`{"id":"o","version":0,"status":"created","userId":"u","expiresAt":"2026-01-02T03:04:05Z","ticket":{"id":"t","price":2050,"version":3}}`},
		// Version 0 is a version, not an absent one.
		{events.OrderCreated{ID: "o", Version: 0, Status: events.StatusCreated, UserID: "u", ExpiresAt: expires, Ticket: events.OrderTicket{ID: "t", Price: 2050, Version: &v0}}, "order.created",
			`{"id":"o","version":0,"status":"created","userId":"u","expiresAt":"2026-01-02T03:04:05Z","ticket":{"id":"t","price":2050,"version":0}}`},
		{events.OrderCancelled{ID: "o", Version: 1, Ticket: events.OrderTicket{ID: "t"}, CancelledBy: events.CancelledByExpiry}, "order.cancelled",
			`{"id":"o","version":1,"ticket":{"id":"t"},"cancelledBy":"expiry"}`},
		{events.TicketReservationRefused{TicketID: "t", OrderID: "o", Reason: events.RefusedPriceChange}, "ticket.reservation_refused",
			`{"ticketId":"t","orderId":"o","reason":"price_change"}`},
		{events.TicketCreated{ID: "t", Title: "x", Price: 2050, UserID: "org", Status: events.TicketOnSale, EventID: "e", OnSaleAt: expires}, "ticket.created",
			`{"id":"t","version":0,"title":"x","price":2050,"userId":"org","status":"on_sale","eventId":"e","onSaleAt":"2026-01-02T03:04:05Z"}`},
		{events.EventCreated{EventState: events.EventState{ID: "e", OrganizerID: "org", Name: "n", Venue: "v", TimeZone: "UTC",
			StartsAt: expires, EndsAt: expires, OnSaleAt: notBefore, FaceValue: 5000, Capacity: 2, ResaleCapPercent: 100,
			Status: events.EventStatusScheduled}}, "event.created",
			`{"id":"e","version":0,"organizerId":"org","name":"n","venue":"v","timeZone":"UTC","startsAt":"2026-01-02T03:04:05Z",` +
				`"endsAt":"2026-01-02T03:04:05Z","onSaleAt":"2026-01-01T03:04:05Z","faceValue":5000,"capacity":2,"resaleCapPercent":100,` +
				`"transfers":false,"queue":false,"status":"scheduled"}`},
		{events.EventCancelled{EventState: events.EventState{ID: "e", Version: 2, Status: events.EventStatusCancelled, Staff: []string{"door@example.com"}}}, "event.cancelled",
			`{"id":"e","version":2,"organizerId":"","name":"","venue":"","timeZone":"","startsAt":"0001-01-01T00:00:00Z",` +
				`"endsAt":"0001-01-01T00:00:00Z","onSaleAt":"0001-01-01T00:00:00Z","faceValue":0,"capacity":0,"resaleCapPercent":0,` +
				`"transfers":false,"queue":false,"status":"cancelled","staff":["door@example.com"]}`},
		{events.ExpirationComplete{OrderID: "o"}, "expiration.complete", `{"orderId":"o"}`},
		{events.PaymentCreated{ID: "p", OrderID: "o", StripeID: "pi_1"}, "payment.created", `{"id":"p","orderId":"o","stripeId":"pi_1"}`},
		{events.PayoutDue{EventID: "e"}, "payout.due", `{"eventId":"e"}`},
		{events.PayoutDue{}, "payout.due", `{}`},
		{events.PaymentDisputed{ID: "dp_1", PaymentID: "p", OrderID: "o", UserID: "u", ChargeID: "pi_1"}, "payment.disputed",
			`{"id":"dp_1","paymentId":"p","orderId":"o","userId":"u","chargeId":"pi_1"}`},
		{events.SessionRevoked{UserID: "u", TokenID: "j", ExpiresAt: expires}, "session.revoked",
			`{"userId":"u","tokenId":"j","expiresAt":"2026-01-02T03:04:05Z"}`},
		{events.SessionRevoked{UserID: "u", NotBefore: &notBefore, ExpiresAt: expires}, "session.revoked",
			`{"userId":"u","notBefore":"2026-01-01T03:04:05Z","expiresAt":"2026-01-02T03:04:05Z"}`},
	}
	for _, tc := range tests {
		t.Run(string(tc.subject), func(t *testing.T) {
			t.Parallel()
			if tc.ev.Subject() != tc.subject {
				t.Errorf("subject %q, want %q", tc.ev.Subject(), tc.subject)
			}
			got, err := json.Marshal(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("payload\n got %s\nwant %s", got, tc.want)
			}
			// Decoding gives the event back.
			back := reflect.New(reflect.TypeOf(tc.ev))
			if err := json.Unmarshal(got, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Elem().Interface(), tc.ev) {
				t.Errorf("round trip %+v, want %+v", back.Elem().Interface(), tc.ev)
			}
			prefix := strings.SplitN(string(tc.subject), ".", 2)[0] + ".>"
			inEvents, inSessions := slices.Contains(events.StreamSubjects, prefix), slices.Contains(events.SessionsStreamSubjects, prefix)
			if inEvents == inSessions {
				t.Errorf("%s is captured by %v (%s) and %v (%s): want exactly one of them",
					tc.subject, events.StreamSubjects, events.Stream, events.SessionsStreamSubjects, events.SessionsStream)
			}
		})
	}
}

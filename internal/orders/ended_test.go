package orders_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// An order says when it was paid or cancelled (the buyer's list shows it
// beside the status): each at the moment of the change, kept by what
// changes nothing, and absent while the order waits.
func TestOrderEndTimes(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var now atomic.Int64
		set := func(d time.Duration) time.Time {
			at := start.Add(d)
			now.Store(at.UnixMilli())
			return at
		}
		f := newFixture(t, db, orders.Config{Now: func() time.Time { return time.UnixMilli(now.Load()) }})
		for _, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
			f.addTicket(t, id, "Show "+id, 1000)
		}
		reserve := func(ticket string) orders.Order {
			t.Helper()
			o, err := f.svc.Reserve(ctx, "alice", ticket, "")
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		set(0)
		paid, cancelled, expired, refused, waiting := reserve("t1"), reserve("t2"), reserve("t3"), reserve("t4"), reserve("t5")

		paidAt := set(time.Minute + 250*time.Millisecond)
		if err := f.svc.Pay(ctx, paid.ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		cancelledAt := set(2 * time.Minute)
		if err := f.svc.Cancel(ctx, "alice", cancelled.ID); err != nil {
			t.Fatal(err)
		}
		expiredAt := set(3 * time.Minute)
		if err := f.svc.Expire(ctx, expired.ID); err != nil {
			t.Fatal(err)
		}
		refusedAt := set(4 * time.Minute)
		if err := f.svc.Refuse(ctx, refused.ID, events.RefusedPriceChange); err != nil {
			t.Fatal(err)
		}
		// Later changes that keep the status keep the moment: a payment
		// repeated, a late one on the expired order (refunded), a second
		// cancellation.
		set(10 * time.Minute)
		if err := f.svc.Pay(ctx, paid.ID, orders.Payment{ID: "pay-1", StripeID: "ch_1"}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pay(ctx, expired.ID, orders.Payment{ID: "pay-2", StripeID: "ch_2"}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Cancel(ctx, "alice", cancelled.ID); err != nil {
			t.Fatal(err)
		}

		var list []map[string]any
		if err := json.Unmarshal(request(f.handler, "GET", "/api/orders", "", token(t, "alice")).Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		byID := map[string]map[string]any{}
		for _, o := range list {
			byID[o["id"].(string)] = o
		}
		rfc := func(at time.Time) string { return at.UTC().Format(time.RFC3339Nano) }
		tests := []struct {
			name, id, paidAt, cancelledAt string
		}{
			{"paid", paid.ID, rfc(paidAt), ""},
			{"cancelled by the buyer", cancelled.ID, "", rfc(cancelledAt)},
			{"expired", expired.ID, "", rfc(expiredAt)},
			{"refused", refused.ID, "", rfc(refusedAt)},
			{"waiting", waiting.ID, "", ""},
		}
		for _, tt := range tests {
			o := byID[tt.id]
			got := func(k string) string { s, _ := o[k].(string); return s }
			if got("paidAt") != tt.paidAt || got("cancelledAt") != tt.cancelledAt {
				t.Errorf("%s order: paidAt %q cancelledAt %q, want %q and %q (%v)", tt.name, got("paidAt"), got("cancelledAt"), tt.paidAt, tt.cancelledAt, o)
			}
		}
	}, migs...)
}

package tickets

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// raceRounds is how many races TestCheckInRacesResalePayment runs on each
// engine.
const raceRounds = 40

// TestCheckInRacesResalePayment: the seller's check-in races the resale
// order's order.created and order.completed (delivered as the listeners
// are, order.completed again once order.created is answered if it came
// first). Either the seller got in, and the order was refused
// (not_available), so orders cancels it and refunds its payment (the
// buyer's order reads cancelled, cancelledBy not_available, and
// order.refund_requested goes to payments), and the buyer has no code; or
// the buyer holds the ticket with the only valid code and the seller's
// scan was being_resold or void. Never both.
func TestCheckInRacesResalePayment(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		seller, resaleBuyer := buyer, buyer2
		var sellerIn, buyerHolds int
		for round := range raceRounds {
			ev := resaleShow(uuid.NewString(), 1)
			tk := heldTickets(t, s, ev)[0]
			c, err := s.Code(ctx, seller.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			listed, err := s.ListForResale(ctx, seller.ID, tk.ID, 4900)
			if err != nil {
				t.Fatal(err)
			}
			orderID, v := uuid.NewString(), listed.Version
			created := events.OrderCreated{ID: orderID, Status: events.StatusCreated, UserID: resaleBuyer.ID,
				Ticket: events.OrderTicket{ID: tk.ID, Price: int64(listed.Price), Version: &v}}
			completed := events.OrderCompleted{ID: orderID, UserID: resaleBuyer.ID, Ticket: events.OrderTicket{ID: tk.ID}}
			scanned := c.Code
			if round%2 == 1 {
				scanned = c.Short
			}

			// Each side yields a different number of times a round, so
			// the three start in every order over the rounds.
			yield := func(n int) {
				for range n {
					runtime.Gosched()
				}
			}
			var (
				wg                      sync.WaitGroup
				start, createdDone      = make(chan struct{}), make(chan struct{})
				createdErr, completeErr error
				scan                    CheckIn
				scanErr                 error
			)
			wg.Go(func() {
				<-start
				yield(round % 3)
				createdErr = s.onOrderCreated(ctx, created)
				close(createdDone)
			})
			wg.Go(func() {
				<-start
				yield(round / 3 % 3)
				completeErr = s.onOrderCompleted(ctx, completed)
				if isEarly(completeErr) {
					<-createdDone
					completeErr = s.onOrderCompleted(ctx, completed)
				}
			})
			wg.Go(func() {
				<-start
				yield(round / 9 % 3)
				scan, scanErr = s.CheckInCode(ctx, doorStaff, scanned, ev.ID)
			})
			close(start)
			wg.Wait()
			if createdErr != nil || completeErr != nil || scanErr != nil {
				t.Fatalf("round %d: order.created %v, order.completed %v, check-in %v", round, createdErr, completeErr, scanErr)
			}

			got, err := s.Get(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			var reason string
			err = db.Read().QueryRowContext(ctx, `SELECT reason FROM refused_orders WHERE order_id = $1`, orderID).Scan(&reason)
			if err != nil && !errors.Is(sqldb.Err(err), sqldb.ErrNotFound) {
				t.Fatal(err)
			}
			again, err := s.CheckInCode(ctx, doorStaff, c.Code, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case scan.Result == ResultAdmitted && got.HolderID == resaleBuyer.ID:
				t.Fatalf("round %d: the seller was admitted and the buyer holds the ticket: %+v", round, got)

			case scan.Result == ResultAdmitted:
				sellerIn++
				if got.HolderID != seller.ID || got.Status != StatusHeld || got.CodeVersion != 1 || reason != events.RefusedNotAvailable {
					t.Fatalf("round %d: the seller got in, but the ticket is %+v and the order's refusal %q, want held by the seller at v1, refused not_available",
						round, got, reason)
				}
				if _, err := s.Code(ctx, resaleBuyer.ID, tk.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("round %d: the refused buyer's code = %v, want none", round, err)
				}
				if again.Result != ResultAlreadyUsed {
					t.Fatalf("round %d: the seller's code again = %s, want already_used", round, again.Result)
				}
				// What orders makes of the refusal of a paid order (cancelled
				// with its reason, its payment refunded) is orders' own test,
				// TestOrderRefuse: a service's tests import no other service.

			case got.HolderID == resaleBuyer.ID:
				buyerHolds++
				if (scan.Result != ResultBeingResold && scan.Result != ResultVoid) || reason != "" || got.Status != StatusHeld ||
					got.CodeVersion != 2 || got.OrderID != orderID {
					t.Fatalf("round %d: the buyer holds %+v, the seller's scan %s, the refusal %q; want held at v2 by the order, being_resold or void, no refusal",
						round, got, scan.Result, reason)
				}
				if again.Result != ResultVoid {
					t.Fatalf("round %d: the seller's code after the resale = %s, want void", round, again.Result)
				}
				fresh, err := s.Code(ctx, resaleBuyer.ID, tk.ID)
				if err != nil || fresh.CodeVersion != 2 {
					t.Fatalf("round %d: the buyer's code = %+v, %v", round, fresh, err)
				}
				if r, err := s.CheckInCode(ctx, doorStaff, fresh.Short, ev.ID); err != nil || r.Result != ResultAdmitted {
					t.Fatalf("round %d: the buyer at the door = %+v, %v, want admitted", round, r, err)
				}

			default:
				t.Fatalf("round %d: neither: the seller's scan %s, the ticket %+v, the refusal %q", round, scan.Result, got, reason)
			}
		}
		t.Logf("%d rounds: the seller got in %d times, the buyer held the ticket %d times", raceRounds, sellerIn, buyerHolds)
	}, migs...)
}

package tickets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/money"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// DefaultChunk is Config.Chunk's default: how many tickets one
// transaction issues or takes off sale.
const DefaultChunk = 1000

// MaxCapacity is the most tickets one event may have (DESIGN.md 9.1).
const MaxCapacity = 100_000

// errUnfinished is an issuing or a cancellation that stopped between two
// chunks because its handler's time was nearly up: what is done is
// committed, and the redelivered event goes on from there.
var errUnfinished = errors.New("stopped between chunks to resume on redelivery")

// chunkMargin is how much of its deadline a handler keeps when it stops
// between chunks rather than risk a chunk cut off mid-way.
const chunkMargin = 5 * time.Second

// outOfTime reports whether ctx's deadline is too near for another chunk.
func outOfTime(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < chunkMargin
}

// seatSpace is the namespace of issued tickets' ids (see seatID).
var seatSpace = uuid.MustParse("6f1d7a52-3b0e-4c61-9a55-2f1c8e0b7d43")

// seatID is the id of the event's ticket number seat (0-based): a UUID
// derived from both (version 5), so issuing the same seat twice names
// the same row, and, being evenly spread, a random point among an event's
// ids is a fair place for orders to start looking for a free ticket.
func seatID(eventID string, seat int) string {
	return uuid.NewSHA1(seatSpace, []byte(eventID+"/"+strconv.Itoa(seat))).String()
}

// issuedTitle is an issued ticket's title: "Name — Venue", cut to
// MaxTitle characters.
func issuedTitle(name, venue string) string {
	title := strings.TrimSpace(name) + " — " + strings.TrimSpace(venue)
	if utf8.RuneCountInString(title) > MaxTitle {
		title = string([]rune(title)[:MaxTitle])
	}
	return title
}

// Issue issues the event's Capacity tickets to its organizer, at face
// value, on sale from OnSaleAt (event.created). It works in chunks of
// s.chunk tickets, each one transaction that inserts the tickets, their
// ticket.created and the new issued count (event_stock), so no chunk holds
// the writer (SQLite) long, and a crash or a redelivery resumes after the
// last chunk committed. On PostgreSQL each chunk locks the event's count,
// so two deliveries at once take turns and issue each chunk once; ticket
// ids come from the event id and the seat number (seatID), so even a
// count gone wrong would collide on the primary key rather than issue a
// seat twice. An event cancelled meanwhile stops the issuing. When ctx's
// deadline comes near it stops between two chunks (errUnfinished).
func (s *Service) Issue(ctx context.Context, ev events.EventState) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.StartStock(ctx, tx, ev.ID, ev.Capacity)
	})
	if err != nil {
		return fmt.Errorf("issue %s: %w", ev.ID, err)
	}
	title := issuedTitle(ev.Name, ev.Venue)
	onSale := ev.OnSaleAt.UTC().Truncate(time.Millisecond)
	for {
		if outOfTime(ctx) {
			return fmt.Errorf("issue %s: %w", ev.ID, errUnfinished)
		}
		done := false
		err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			st, err := s.store.StockForUpdate(ctx, tx, ev.ID)
			if err != nil {
				return err
			}
			if st.Cancelled || st.Issued >= st.Capacity {
				done = true
				return nil
			}
			n := min(s.chunk, st.Capacity-st.Issued)
			now := s.now().UTC().Truncate(time.Millisecond)
			chunk := make([]Ticket, n)
			for i := range chunk {
				chunk[i] = Ticket{
					ID: seatID(ev.ID, st.Issued+i), Title: title, Price: money.Cents(ev.FaceValue),
					UserID: ev.OrganizerID, Status: StatusOnSale, CreatedAt: now,
					EventID: ev.ID, OnSaleAt: onSale,
				}
			}
			if err := s.store.InsertMany(ctx, tx, chunk); err != nil {
				return err
			}
			for _, t := range chunk {
				err := s.ob.Add(ctx, tx, events.TicketCreated{
					ID: t.ID, Version: 0, Title: t.Title, Price: int64(t.Price), UserID: t.UserID,
					Status: string(t.Status), EventID: t.EventID, OnSaleAt: t.OnSaleAt,
				})
				if err != nil {
					return err
				}
			}
			return s.store.SetIssued(ctx, tx, ev.ID, st.Issued+n)
		})
		if err != nil {
			return fmt.Errorf("issue %s: %w", ev.ID, err)
		}
		if done {
			return nil
		}
	}
}

// CancelEvent takes the event's tickets off sale (event.cancelled): no
// more are issued, unsold ones are withdrawn (a reserved one keeps its
// order, which orders then cancels) and held ones are void, each with its
// ticket.updated, in chunks of s.chunk tickets a transaction. Applying it
// again changes nothing and publishes nothing.
func (s *Service) CancelEvent(ctx context.Context, eventID string) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.CancelStock(ctx, tx, eventID, s.now())
	})
	if err != nil {
		return fmt.Errorf("cancel event %s: %w", eventID, err)
	}
	err = s.changeStock(ctx, eventID, nil, (*Ticket).TakeOffSale)
	if err != nil {
		return fmt.Errorf("cancel event %s: %w", eventID, err)
	}
	return nil
}

// changeStock applies change to every ticket of the event, in chunks of
// s.chunk tickets a transaction (each ticket locked), writing with its
// ticket.updated each one change reports changed. Before each chunk,
// check (when set) runs in the chunk's transaction and may end the walk
// (false). It stops between two chunks (errUnfinished) when ctx's
// deadline is near.
func (s *Service) changeStock(ctx context.Context, eventID string, check func(*sqldb.Tx) (bool, error), change func(*Ticket) bool) error {
	after := ""
	for {
		if outOfTime(ctx) {
			return errUnfinished
		}
		n, goOn := 0, true
		err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
			if check != nil {
				var err error
				if goOn, err = check(tx); err != nil || !goOn {
					return err
				}
			}
			list, err := s.store.EventTicketsForUpdate(ctx, tx, eventID, after, s.chunk)
			if err != nil {
				return err
			}
			n = len(list)
			for i := range list {
				t := &list[i]
				after = t.ID
				if !change(t) {
					continue
				}
				if err := s.write(ctx, tx, t, t.Version); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !goOn || n < s.chunk {
			return nil
		}
	}
}

// RepriceStock applies ev (event.updated) to the event's tickets. Its
// unsold stock gets the event's face value and on-sale time: every issued
// ticket still on sale with no order and no holder whose price or on-sale
// time differs moves on a version, with its ticket.updated (orders'
// replica opens the sale and prices the order from it). Sold, held,
// reserved and void tickets keep theirs: a buyer pays what they were
// shown. And every resale listing on sale above the event's resale cap,
// floor(faceValue × resaleCapPercent / 100), leaves sale
// (Ticket.WithdrawOverCap: its holder holds it again, same code, with
// the reason), with its ticket.updated, so orders stops selling it; a
// listing an order holds keeps that order (see WithdrawOverCap). It works
// in chunks of s.chunk tickets like Issue, so no transaction holds an
// event's 100,000 tickets, and stops between two (errUnfinished) when
// ctx's deadline is near. Each chunk first checks, under the replica
// row's lock, that the event's replica still stands at ev's version: a
// later version's pass (which sets the later values) takes over, and an
// earlier redelivered one changes nothing. The events part allows face
// value and on-sale edits only before the sale opens and once every
// ticket is issued, so no order holds one of the stock tickets and none is
// issued at the old values meanwhile. Applying it again changes nothing
// and publishes nothing.
func (s *Service) RepriceStock(ctx context.Context, ev events.EventState) error {
	if ev.Status != events.EventStatusScheduled {
		return nil
	}
	price := money.Cents(ev.FaceValue)
	onSale := ev.OnSaleAt.UTC().Truncate(time.Millisecond)
	capPrice := DoorEvent{FaceValue: price, ResaleCapPercent: int64(ev.ResaleCapPercent)}.ResaleCap()
	current := func(tx *sqldb.Tx) (bool, error) {
		v, err := s.store.DoorEventVersion(ctx, tx, ev.ID)
		return v == ev.Version, err
	}
	err := s.changeStock(ctx, ev.ID, current, func(t *Ticket) bool {
		// A face value of 0 is no cap at all (a message without one),
		// not a cap of 0 that would take every listing off sale.
		return t.Reprice(price, onSale) || (capPrice > 0 && t.WithdrawOverCap(capPrice))
	})
	if err != nil {
		return fmt.Errorf("reprice %s: %w", ev.ID, err)
	}
	return nil
}

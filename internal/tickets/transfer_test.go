package tickets

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// transferShow is resaleShow(id, capacity) with transfers allowed.
func transferShow(id string, capacity int) events.EventState {
	ev := resaleShow(id, capacity)
	ev.Transfers = true
	return ev
}

// testClock is a settable clock, for the event's start.
type testClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *testClock) set(at time.Time) {
	c.mu.Lock()
	c.at = at
	c.mu.Unlock()
}

// clocked is a test service on a settable clock, a week before the test
// events' start.
func clocked(t *testing.T, db *sqldb.DB) (*Service, *testClock) {
	c := &testClock{at: show("x", 1).StartsAt.Add(-7 * 24 * time.Hour)}
	return chunked(t, db, 0, c.now), c
}

// faultCode is err's code, or "" when it is not a fault with one.
func faultCode(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.CodeOf()
	}
	var p fault.Problems
	if errors.As(err, &p) && len(p) > 0 {
		return "invalid:" + p[0].Field
	}
	return ""
}

// checkIn scans code at the event's door as its door staff.
func checkIn(tb testing.TB, s *Service, code, eventID string) Result {
	tb.Helper()
	r, err := s.CheckInCode(context.Background(), doorStaff, code, eventID)
	if err != nil {
		tb.Fatalf("check-in: %v", err)
	}
	return r.Result
}

// TestStartTransferRefusals: each rule of DESIGN.md 9.3 that keeps a
// ticket from being transferred, with its code.
func TestStartTransferRefusals(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, clock := clocked(t, db)
		for _, tc := range []struct {
			name  string
			event func(*events.EventState)
			// prepare readies the held ticket and returns who transfers
			// it to what email.
			prepare func(t *testing.T, tk Ticket) (session.User, string)
			want    string
			wantErr error
		}{
			{name: "no email", prepare: func(*testing.T, Ticket) (session.User, string) { return buyer, "  " }, want: "invalid:email"},
			{name: "bad email", prepare: func(*testing.T, Ticket) (session.User, string) { return buyer, "not-an-email" }, want: "invalid:email"},
			{name: "email with a name", prepare: func(*testing.T, Ticket) (session.User, string) { return buyer, "Ann <ann@example.com>" }, want: "invalid:email"},
			{name: "a stranger", prepare: func(*testing.T, Ticket) (session.User, string) { return stranger, "x@example.com" }, wantErr: ErrNotFound},
			{name: "the organizer", prepare: func(*testing.T, Ticket) (session.User, string) { return organizer, "x@example.com" }, wantErr: ErrNotFound},
			{name: "signed out", prepare: func(*testing.T, Ticket) (session.User, string) { return session.User{}, "x@example.com" }, wantErr: ErrNotFound},
			{name: "to oneself", prepare: func(*testing.T, Ticket) (session.User, string) { return buyer, " BUYER@example.com " }, want: "transfer_to_self"},
			{name: "transfers off", event: func(e *events.EventState) { e.Transfers = false },
				prepare: func(*testing.T, Ticket) (session.User, string) { return buyer, "x@example.com" }, want: "transfers_not_allowed"},
			{name: "listed", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				if _, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4000); err != nil {
					t.Fatal(err)
				}
				return buyer, "x@example.com"
			}, want: "ticket_listed"},
			{name: "reserved", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				listed, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4000)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.reserve(ctx, tk.ID, reservation("order-"+tk.ID[:8], listed)); err != nil {
					t.Fatal(err)
				}
				return buyer, "x@example.com"
			}, want: "ticket_being_resold"},
			{name: "checked in", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				c, err := s.Code(ctx, buyer.ID, tk.ID)
				if err != nil {
					t.Fatal(err)
				}
				if r := checkIn(t, s, c.Code, tk.EventID); r != ResultAdmitted {
					t.Fatalf("check-in = %s", r)
				}
				return buyer, "x@example.com"
			}, want: "ticket_checked_in"},
			{name: "a transfer pending", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				if _, err := s.StartTransfer(ctx, buyer, tk.ID, "first@example.com"); err != nil {
					t.Fatal(err)
				}
				return buyer, "second@example.com"
			}, want: "transfer_pending"},
			{name: "event started", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				clock.set(show("x", 1).StartsAt)
				return buyer, "x@example.com"
			}, want: "transfers_closed"},
			{name: "event cancelled", prepare: func(t *testing.T, tk Ticket) (session.User, string) {
				ev := transferShow(tk.EventID, 1)
				ev.Version, ev.Status = 1, events.EventStatusCancelled
				if err := s.onEventCancelled(ctx, events.EventCancelled{EventState: ev}); err != nil {
					t.Fatal(err)
				}
				return buyer, "x@example.com"
			}, want: "event_not_scheduled"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clock.set(show("x", 1).StartsAt.Add(-7 * 24 * time.Hour))
				ev := transferShow("ev-tr-"+strings.ReplaceAll(tc.name, " ", "-"), 1)
				if tc.event != nil {
					tc.event(&ev)
				}
				tk := heldTickets(t, s, ev)[0]
				user, email := tc.prepare(t, tk)
				before, _ := s.Get(ctx, tk.ID)
				_, err := s.StartTransfer(ctx, user, tk.ID, email)
				switch {
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Fatalf("transfer = %v, want %v", err, tc.wantErr)
				case tc.wantErr == nil && faultCode(err) != tc.want:
					t.Fatalf("transfer = %v (code %q), want %s", err, faultCode(err), tc.want)
				}
				if after, _ := s.Get(ctx, tk.ID); after != before {
					t.Fatalf("a refused transfer changed the ticket: %+v, was %+v", after, before)
				}
			})
		}
	}, migs...)
}

// TestTransferAccept: the recipient, by the email of their session,
// accepts; they hold the ticket with a new code, the sender's is void at
// the door at once, and the transfer cannot be accepted or cancelled
// again. While it is pending the holder cannot list the ticket.
func TestTransferAccept(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		tk := heldTickets(t, s, transferShow("ev-accept", 1))[0]
		old, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := s.StartTransfer(ctx, buyer, tk.ID, " Buyer2@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != TransferPending || tr.ToEmail != "buyer2@example.com" || tr.FromUserID != buyer.ID || tr.TicketID != tk.ID {
			t.Fatalf("transfer = %+v", tr)
		}
		if _, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4000); faultCode(err) != "transfer_pending" {
			t.Fatalf("listing with a transfer pending = %v, want transfer_pending", err)
		}
		in, out, err := s.Transfers(ctx, buyer2)
		if err != nil || len(in) != 1 || in[0].ID != tr.ID || in[0].Title != tk.Title || len(out) != 0 {
			t.Fatalf("recipient's transfers = %+v, %+v, %v", in, out, err)
		}
		if in, out, err = s.Transfers(ctx, buyer); err != nil || len(in) != 0 || len(out) != 1 || out[0].ID != tr.ID {
			t.Fatalf("sender's transfers = %+v, %+v, %v", in, out, err)
		}

		for _, who := range []session.User{stranger, buyer, {ID: "other", Email: ""}} {
			if _, err := s.AcceptTransfer(ctx, who, tr.ID); !errors.Is(err, ErrTransferNotFound) {
				t.Errorf("accept by %+v = %v, want not found", who, err)
			}
		}
		if err := s.CancelTransfer(ctx, buyer2.ID, tr.ID); !errors.Is(err, ErrTransferNotFound) {
			t.Errorf("cancel by the recipient = %v, want not found", err)
		}
		// The recipient's email may be cased otherwise in their token.
		got, err := s.AcceptTransfer(ctx, session.User{ID: buyer2.ID, Email: "BUYER2@example.com"}, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.HolderID != buyer2.ID || got.CodeVersion != old.CodeVersion+1 || got.Status != StatusHeld {
			t.Fatalf("accepted = %+v, want held by buyer2 with the next code", got)
		}
		if u := lastUpdate(t, db, tk.ID); u.Version != got.Version || u.Status != string(StatusHeld) {
			t.Fatalf("ticket.updated of the accept = %+v", u)
		}
		fresh, err := s.Code(ctx, buyer2.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Code(ctx, buyer.ID, tk.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("sender's code after the accept = %v, want not found", err)
		}
		if r := checkIn(t, s, old.Code, tk.EventID); r != ResultVoid {
			t.Fatalf("sender's code at the door = %s, want void", r)
		}
		if r := checkIn(t, s, old.Short, tk.EventID); r != ResultVoid {
			t.Fatalf("sender's short code at the door = %s, want void", r)
		}
		if r := checkIn(t, s, fresh.Code, tk.EventID); r != ResultAdmitted {
			t.Fatalf("recipient's code at the door = %s, want admitted", r)
		}
		if _, err := s.AcceptTransfer(ctx, buyer2, tr.ID); faultCode(err) != "transfer_accepted" {
			t.Fatalf("accepting twice = %v, want transfer_accepted", err)
		}
		if err := s.CancelTransfer(ctx, buyer.ID, tr.ID); faultCode(err) != "transfer_accepted" {
			t.Fatalf("cancelling an accepted transfer = %v, want transfer_accepted", err)
		}
		if in, out, _ := s.Transfers(ctx, buyer2); len(in)+len(out) != 0 {
			t.Fatalf("pending transfers after the accept: %+v %+v", in, out)
		}
	}, migs...)
}

// TestTransferCancelAndClose: the sender cancels (again: no error), after
// which accepting is transfer_cancelled; accepting from the event's start
// is transfers_closed; turning transfers off or cancelling the event
// cancels the pending transfers of its tickets.
func TestTransferCancelAndClose(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, clock := clocked(t, db)
		ev := transferShow("ev-close", 3)
		tks := heldTickets(t, s, ev)

		tr, err := s.StartTransfer(ctx, buyer, tks[0].ID, buyer2.Email)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.CancelTransfer(ctx, buyer.ID, tr.ID); err != nil {
				t.Fatalf("cancel: %v", err)
			}
		}
		if _, err := s.AcceptTransfer(ctx, buyer2, tr.ID); faultCode(err) != "transfer_cancelled" {
			t.Fatalf("accepting a cancelled transfer = %v, want transfer_cancelled", err)
		}
		// A new transfer may follow a cancelled one.
		if tr, err = s.StartTransfer(ctx, buyer, tks[0].ID, buyer2.Email); err != nil {
			t.Fatal(err)
		}
		clock.set(ev.StartsAt.Add(time.Minute))
		if _, err := s.AcceptTransfer(ctx, buyer2, tr.ID); faultCode(err) != "transfers_closed" {
			t.Fatalf("accepting after the start = %v, want transfers_closed", err)
		}
		if got, _ := s.Get(ctx, tks[0].ID); got.HolderID != buyer.ID {
			t.Fatalf("holder after a refused accept = %s", got.HolderID)
		}
		clock.set(ev.StartsAt.Add(-time.Hour))

		if _, err := s.StartTransfer(ctx, buyer, tks[1].ID, buyer2.Email); err != nil {
			t.Fatal(err)
		}
		off := ev
		off.Version, off.Transfers = 1, false
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: off}); err != nil {
			t.Fatal(err)
		}
		if in, _, _ := s.Transfers(ctx, buyer2); len(in) != 0 {
			t.Fatalf("pending transfers after transfers were turned off: %+v", in)
		}
		if _, err := s.AcceptTransfer(ctx, buyer2, tr.ID); faultCode(err) != "transfer_cancelled" {
			t.Fatalf("accepting once transfers are off = %v, want transfer_cancelled", err)
		}
		if _, err := s.StartTransfer(ctx, buyer, tks[1].ID, buyer2.Email); faultCode(err) != "transfers_not_allowed" {
			t.Fatalf("transfer once they are off = %v", err)
		}
		// A redelivered older version does not cancel transfers a later
		// version allowed again.
		on := ev
		on.Version, on.Transfers = 2, true
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: on}); err != nil {
			t.Fatal(err)
		}
		if tr, err = s.StartTransfer(ctx, buyer, tks[2].ID, buyer2.Email); err != nil {
			t.Fatal(err)
		}
		if err := s.onEventUpdated(ctx, events.EventUpdated{EventState: off}); err != nil {
			t.Fatal(err)
		}
		if in, _, _ := s.Transfers(ctx, buyer2); len(in) != 1 {
			t.Fatalf("a redelivered older event.updated cancelled a transfer: %+v", in)
		}
		cancelled := ev
		cancelled.Version, cancelled.Status = 3, events.EventStatusCancelled
		if err := s.onEventCancelled(ctx, events.EventCancelled{EventState: cancelled}); err != nil {
			t.Fatal(err)
		}
		if in, out, _ := s.Transfers(ctx, buyer2); len(in)+len(out) != 0 {
			t.Fatalf("pending transfers after the event was cancelled: %+v", in)
		}
	}, migs...)
}

// TestTransferConcurrentAccept: of many accepts of one transfer at once,
// exactly one makes the recipient the holder; the others are told it was
// accepted, and the code moved on once.
func TestTransferConcurrentAccept(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		tk := heldTickets(t, s, transferShow("ev-race-accept", 1))[0]
		tr, err := s.StartTransfer(ctx, buyer, tk.ID, buyer2.Email)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var ok, accepted atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.AcceptTransfer(ctx, buyer2, tr.ID)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrTransferAccepted):
					accepted.Add(1)
				default:
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("accept: %v", err)
		}
		if ok.Load() != 1 || accepted.Load() != n-1 {
			t.Fatalf("%d accepts succeeded and %d were told it was accepted, want 1 and %d", ok.Load(), accepted.Load(), n-1)
		}
		got, _ := s.Get(ctx, tk.ID)
		if got.HolderID != buyer2.ID || got.CodeVersion != tk.CodeVersion+1 {
			t.Fatalf("ticket = %+v, want held by buyer2 at code version %d", got, tk.CodeVersion+1)
		}
		h, err := s.History(ctx, organizer.ID, tk.ID, 0, 0)
		if err != nil || len(h) != 2 || h[1].Reason != ReasonTransferred {
			t.Fatalf("history = %+v, %v, want issued then one transferred", h, err)
		}
	}, migs...)
}

// TestTransferListingRace: a transfer and a listing of one ticket at
// once: exactly one of them gets it, and the ticket ends either listed
// with no transfer pending or held with one.
func TestTransferListingRace(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		tks := heldTickets(t, s, transferShow("ev-race-list", 6))
		for _, tk := range tks {
			var terr, lerr error
			var wg sync.WaitGroup
			wg.Go(func() { _, terr = s.StartTransfer(ctx, buyer, tk.ID, buyer2.Email) })
			wg.Go(func() { _, lerr = s.ListForResale(ctx, buyer.ID, tk.ID, 4000) })
			wg.Wait()
			if (terr == nil) == (lerr == nil) {
				t.Fatalf("ticket %s: transfer %v, listing %v: want exactly one to succeed", tk.ID, terr, lerr)
			}
			if lerr != nil && faultCode(lerr) != "transfer_pending" {
				t.Fatalf("listing lost with %v, want transfer_pending", lerr)
			}
			if terr != nil && faultCode(terr) != "ticket_listed" {
				t.Fatalf("transfer lost with %v, want ticket_listed", terr)
			}
			got, _ := s.Get(ctx, tk.ID)
			pending := false
			db.WithTx(ctx, func(tx *sqldb.Tx) (err error) {
				pending, err = s.store.HasPendingTransfer(ctx, tx, tk.ID)
				return err
			})
			if (got.Status == StatusOnSale) == pending {
				t.Fatalf("ticket %s ends %s with a transfer pending: %v", tk.ID, got.Status, pending)
			}
		}
	}, migs...)
}

// TestHistoryVisibility: the organizer sees every entry of a ticket's
// history; each holder, current or former, only their own holding
// periods; anyone else nothing (not found).
func TestHistoryVisibility(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		ev := transferShow("ev-history", 1)
		tk := heldTickets(t, s, ev)[0] // issued to buyer
		listed, err := s.ListForResale(ctx, buyer.ID, tk.ID, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, tk.ID, reservation("resale-history", listed)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, tk.ID, "resale-history", buyer2.ID); err != nil { // resold to buyer2
			t.Fatal(err)
		}
		tr, err := s.StartTransfer(ctx, buyer2, tk.ID, stranger.Email)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptTransfer(ctx, stranger, tr.ID); err != nil { // transferred to stranger
			t.Fatal(err)
		}
		cancelled := ev
		cancelled.Version, cancelled.Status = 1, events.EventStatusCancelled
		if err := s.onEventCancelled(ctx, events.EventCancelled{EventState: cancelled}); err != nil { // voided
			t.Fatal(err)
		}

		describe := func(h []HistoryEntry) string {
			var b []string
			for _, e := range h {
				b = append(b, string(e.Reason)+":"+e.HolderID)
			}
			return strings.Join(b, " ")
		}
		for _, tc := range []struct {
			viewer string
			want   string
		}{
			{organizer.ID, "issued:buyer-1 resold:buyer-2 transferred:stranger-1 voided:stranger-1"},
			{buyer.ID, "issued:buyer-1"},
			{buyer2.ID, "resold:buyer-2"},
			{stranger.ID, "transferred:stranger-1 voided:stranger-1"},
		} {
			h, err := s.History(ctx, tc.viewer, tk.ID, 0, 0)
			if err != nil || describe(h) != tc.want {
				t.Errorf("history seen by %s = %q, %v, want %q", tc.viewer, describe(h), err, tc.want)
			}
		}
		all, _ := s.History(ctx, organizer.ID, tk.ID, 0, 0)
		for i, e := range all {
			if e.CodeVersion != int64(i+1) || e.At.IsZero() {
				t.Errorf("entry %d = %+v, want code version %d and a time", i, e, i+1)
			}
		}
		for _, who := range []string{"", "someone-else", doorStaff.ID} {
			if _, err := s.History(ctx, who, tk.ID, 0, 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("history seen by %q = %v, want not found", who, err)
			}
		}
		if h, err := s.History(ctx, organizer.ID, tk.ID, 1, 2); err != nil || describe(h) != "resold:buyer-2 transferred:stranger-1" {
			t.Errorf("page after code version 1 = %q, %v", describe(h), err)
		}
		if _, err := s.History(ctx, organizer.ID, "not-an-id", 0, 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("history of a bad id = %v", err)
		}
	}, migs...)
}

// TestTransferHTTP: the routes' shapes and status codes.
func TestTransferHTTP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, _ := clocked(t, db)
		h := handler(s)
		tk := heldTickets(t, s, transferShow("ev-http-transfer", 1))[0]
		path := "/api/tickets/" + tk.ID + "/transfer"

		for _, tc := range []struct {
			user   *session.User
			body   string
			status int
			field  string
		}{
			{nil, `{"email":"a@example.com"}`, http.StatusUnauthorized, ""},
			{&buyer, `{}`, http.StatusBadRequest, "email"},
			{&buyer, `{"email":12}`, http.StatusBadRequest, "email"},
			{&buyer, `{"email":"nope"}`, http.StatusBadRequest, "email"},
			{&buyer, `{"email":"buyer@example.com"}`, http.StatusBadRequest, "email"},
			{&stranger, `{"email":"a@example.com"}`, http.StatusNotFound, ""},
		} {
			r := httpapitest.Do(t, h, "POST", path, tc.user, tc.body)
			if r.Status != tc.status {
				t.Fatalf("POST %s %s = %d %s, want %d", path, tc.body, r.Status, r.Body, tc.status)
			}
			if tc.field != "" {
				if fields, _ := r.Errors(t); len(fields) == 0 || fields[0] != tc.field {
					t.Fatalf("POST %s = %s, want an error naming %s", tc.body, r.Body, tc.field)
				}
			}
		}
		r := httpapitest.Do(t, h, "POST", path, &buyer, `{"email":"buyer2@example.com"}`)
		if r.Status != http.StatusCreated {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		m := r.Object(t)
		id, _ := m["id"].(string)
		if m["status"] != "pending" || m["ticketId"] != tk.ID || m["fromUserId"] != buyer.ID || m["toEmail"] != "buyer2@example.com" || m["createdAt"] == nil {
			t.Fatalf("transfer = %s", r.Body)
		}
		if r = httpapitest.Do(t, h, "POST", path, &buyer, `{"email":"buyer3@example.com"}`); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "transfer_pending") {
			t.Fatalf("second transfer: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "GET", "/api/transfers", &buyer2, "")
		var list struct{ Incoming, Outgoing []map[string]any }
		r.Decode(t, &list)
		if r.Status != http.StatusOK || len(list.Incoming) != 1 || list.Incoming[0]["id"] != id || len(list.Outgoing) != 0 {
			t.Fatalf("recipient's transfers: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "GET", "/api/transfers", nil, ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("transfers signed out: %d", r.Status)
		}
		if r = httpapitest.Do(t, h, "POST", "/api/transfers/"+id+"/accept", &stranger, ""); r.Status != http.StatusNotFound {
			t.Fatalf("accept by a stranger: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "POST", "/api/transfers/nope/accept", &buyer2, ""); r.Status != http.StatusNotFound {
			t.Fatalf("accept of a bad id: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "POST", "/api/transfers/"+id+"/accept", &buyer2, "")
		if m := r.Object(t); r.Status != http.StatusOK || m["heldByYou"] != true || m["status"] != "held" || m["codeVersion"] != 2.0 {
			t.Fatalf("accept: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "POST", "/api/transfers/"+id+"/accept", &buyer2, ""); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "transfer_accepted") {
			t.Fatalf("second accept: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "DELETE", "/api/transfers/"+id, &buyer, ""); r.Status != http.StatusConflict {
			t.Fatalf("cancel after accept: %d %s", r.Status, r.Body)
		}
		// Back to the first buyer, then cancelled by buyer2.
		r = httpapitest.Do(t, h, "POST", path, &buyer2, `{"email":"buyer@example.com"}`)
		back, _ := r.Object(t)["id"].(string)
		if r = httpapitest.Do(t, h, "DELETE", "/api/transfers/"+back, &buyer, ""); r.Status != http.StatusNotFound {
			t.Fatalf("cancel by the recipient: %d %s", r.Status, r.Body)
		}
		if r = httpapitest.Do(t, h, "DELETE", "/api/transfers/"+back, &buyer2, ""); r.Status != http.StatusNoContent {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}

		hist := "/api/tickets/" + tk.ID + "/history"
		r = httpapitest.Do(t, h, "GET", hist, &organizer, "")
		if objs := r.Objects(t); r.Status != http.StatusOK || len(objs) != 2 || objs[1]["reason"] != "transferred" || objs[1]["holderId"] != buyer2.ID || objs[1]["at"] == nil {
			t.Fatalf("organizer's history: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "GET", hist+"?limit=1", &organizer, "")
		if objs := r.Objects(t); len(objs) != 1 || !strings.Contains(r.Header.Get("Link"), "after=1") {
			t.Fatalf("first page: %s, Link %q", r.Body, r.Header.Get("Link"))
		}
		if r = httpapitest.Do(t, h, "GET", hist, &buyer, ""); len(r.Objects(t)) != 1 {
			t.Fatalf("former holder's history: %s", r.Body)
		}
		for _, tc := range []struct {
			path   string
			user   *session.User
			status int
		}{
			{hist, &stranger, http.StatusNotFound},
			{hist, nil, http.StatusUnauthorized},
			{hist + "?after=x", &organizer, http.StatusBadRequest},
			{hist + "?after=-1", &organizer, http.StatusBadRequest},
			{hist + "?limit=0", &organizer, http.StatusBadRequest},
			{"/api/tickets/nope/history", &organizer, http.StatusNotFound},
		} {
			if r = httpapitest.Do(t, h, "GET", tc.path, tc.user, ""); r.Status != tc.status {
				t.Errorf("GET %s = %d %s, want %d", tc.path, r.Status, r.Body, tc.status)
			}
		}
	}, migs...)
}

// TestTransferAcceptVsCheckIn: the sender's code scanned at the door while
// the recipient accepts: either the sender got in and the accept is
// refused (ticket_checked_in), or the recipient holds the only valid code
// and the sender's is void; never both.
func TestTransferAcceptVsCheckIn(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		tks := heldTickets(t, s, transferShow("ev-race-door", 6))
		for _, tk := range tks {
			old, err := s.Code(ctx, buyer.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := s.StartTransfer(ctx, buyer, tk.ID, buyer2.Email)
			if err != nil {
				t.Fatal(err)
			}
			var (
				aerr error
				scan CheckIn
				serr error
				wg   sync.WaitGroup
			)
			wg.Go(func() { _, aerr = s.AcceptTransfer(ctx, buyer2, tr.ID) })
			wg.Go(func() { scan, serr = s.CheckInCode(ctx, doorStaff, old.Code, tk.EventID) })
			wg.Wait()
			if serr != nil {
				t.Fatal(serr)
			}
			got, _ := s.Get(ctx, tk.ID)
			switch scan.Result {
			case ResultAdmitted:
				if faultCode(aerr) != "ticket_checked_in" || got.HolderID != buyer.ID {
					t.Fatalf("the sender got in, yet the accept = %v and the holder is %s", aerr, got.HolderID)
				}
			case ResultVoid:
				if aerr != nil || got.HolderID != buyer2.ID {
					t.Fatalf("the sender's code was void, yet the accept = %v and the holder is %s", aerr, got.HolderID)
				}
				fresh, err := s.Code(ctx, buyer2.ID, tk.ID)
				if err != nil {
					t.Fatal(err)
				}
				if r := checkIn(t, s, fresh.Code, tk.EventID); r != ResultAdmitted {
					t.Fatalf("the recipient's code = %s, want admitted", r)
				}
			default:
				t.Fatalf("the sender's code at the door = %s", scan.Result)
			}
		}
	}, migs...)
}

// TestTransferAcceptVsCancel: the recipient accepts while the sender
// cancels: exactly one of them wins, and the ticket says which.
func TestTransferAcceptVsCancel(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := clocked(t, db)
		for _, tk := range heldTickets(t, s, transferShow("ev-race-cancel", 6)) {
			tr, err := s.StartTransfer(ctx, buyer, tk.ID, buyer2.Email)
			if err != nil {
				t.Fatal(err)
			}
			var aerr, cerr error
			var wg sync.WaitGroup
			wg.Go(func() { _, aerr = s.AcceptTransfer(ctx, buyer2, tr.ID) })
			wg.Go(func() { cerr = s.CancelTransfer(ctx, buyer.ID, tr.ID) })
			wg.Wait()
			got, _ := s.Get(ctx, tk.ID)
			switch {
			case aerr == nil && faultCode(cerr) == "transfer_accepted":
				if got.HolderID != buyer2.ID {
					t.Fatalf("accepted, yet held by %s", got.HolderID)
				}
			case cerr == nil && faultCode(aerr) == "transfer_cancelled":
				if got.HolderID != buyer.ID || got.CodeVersion != tk.CodeVersion {
					t.Fatalf("cancelled, yet the ticket is %+v", got)
				}
			default:
				t.Fatalf("accept = %v, cancel = %v: want exactly one to win", aerr, cerr)
			}
		}
	}, migs...)
}

package tickets

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/entrycode"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var (
	organizer = session.User{ID: "organizer", Email: "org@example.com", Organizer: true}
	doorStaff = session.User{ID: "door-1", Email: "Door@Example.com"}
	buyer     = session.User{ID: "buyer-1", Email: "buyer@example.com"}
)

// doorShow is show(id, capacity) with door@example.com as its staff.
func doorShow(id string, capacity int) events.EventState {
	ev := show(id, capacity)
	ev.Staff = []string{"door@example.com"}
	return ev
}

// heldTickets issues the event's capacity tickets, keeps its replica, and
// sells every one of them to buyer; it returns them, held, in seat order.
func heldTickets(tb testing.TB, s *Service, ev events.EventState) []Ticket {
	tb.Helper()
	ctx := context.Background()
	if err := s.applyDoorEvent(ctx, ev, true); err != nil {
		tb.Fatal(err)
	}
	if err := s.Issue(ctx, ev); err != nil {
		tb.Fatal(err)
	}
	out := make([]Ticket, ev.Capacity)
	for i := range ev.Capacity {
		id := seatID(ev.ID, i)
		tk, err := s.Get(ctx, id)
		if err != nil {
			tb.Fatal(err)
		}
		order := ev.ID + "-order-" + tk.ID[:8]
		if err := s.reserve(ctx, id, reservation(order, tk)); err != nil {
			tb.Fatal(err)
		}
		if err := s.sell(ctx, id, order, buyer.ID); err != nil {
			tb.Fatal(err)
		}
		if out[i], err = s.Get(ctx, id); err != nil {
			tb.Fatal(err)
		}
		if out[i].Status != StatusHeld || out[i].CodeVersion != 1 {
			tb.Fatalf("sold ticket = %+v, want held with code version 1", out[i])
		}
	}
	return out
}

// TestCode: the holder gets a code that verifies and whose short form is
// the stored one; anyone else gets not found; a void ticket's holder gets
// ticket_void.
func TestCode(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := heldTickets(t, s, doorShow("ev-code", 1))[0]

		c, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := entrycode.Verify(s.publicKey(), c.Code)
		if err != nil || claims != (entrycode.Claims{TicketID: tk.ID, EventID: "ev-code", CodeVersion: 1}) {
			t.Fatalf("code claims = %+v, %v", claims, err)
		}
		id, v, err := s.store.EntryCode(ctx, c.Short)
		if err != nil || id != tk.ID || v != 1 {
			t.Fatalf("stored short form = %s v%d, %v", id, v, err)
		}
		for _, who := range []string{"", organizer.ID, stranger.ID} {
			if _, err := s.Code(ctx, who, tk.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("code for %q = %v, want not found", who, err)
			}
		}
		if _, err := s.Code(ctx, buyer.ID, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("code of an unknown ticket = %v", err)
		}
		if err := s.CancelEvent(ctx, "ev-code"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Code(ctx, buyer.ID, tk.ID); !errors.Is(err, ErrTicketVoid) {
			t.Errorf("code of a void ticket = %v, want ErrTicketVoid", err)
		}
	}, migs...)
}

// TestShortFormClash: a short form another code already has moves the
// ticket on to the next code version.
func TestShortFormClash(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		ev := doorShow("ev-clash", 1)
		if err := s.Issue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		tk, _ := s.Get(ctx, seatID(ev.ID, 0))
		first := tk
		first.CodeVersion = 1
		c, err := s.sign(first)
		if err != nil {
			t.Fatal(err)
		}
		err = db.WithTx(ctx, func(tx *sqldb.Tx) error {
			_, err := s.store.AddEntryCode(ctx, tx, c.Short, "someone-else", 7)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.reserve(ctx, tk.ID, reservation("o-1", tk)); err != nil {
			t.Fatal(err)
		}
		if err := s.sell(ctx, tk.ID, "o-1", buyer.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, tk.ID)
		if got.CodeVersion != 2 {
			t.Fatalf("code version after a clash = %d, want 2", got.CodeVersion)
		}
		code, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil || code.CodeVersion != 2 {
			t.Fatalf("code = %+v, %v", code, err)
		}
		if id, _, err := s.store.EntryCode(ctx, code.Short); err != nil || id != tk.ID {
			t.Fatalf("short form of version 2 = %s, %v", id, err)
		}
	}, migs...)
}

// TestCheckIn: every result a door can get, and who may ask.
func TestCheckIn(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		// An hour after the doors' event starts (it ends 4 h after).
		now := time.Date(2031, 5, 31, 11, 0, 0, 0, time.UTC)
		s := chunked(t, db, 0, func() time.Time { return now })
		tks := heldTickets(t, s, doorShow("ev-a", 3))
		other := heldTickets(t, s, doorShow("ev-b", 1))[0]
		code := func(tk Ticket) Code {
			t.Helper()
			c, err := s.Code(ctx, buyer.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		first, second, third := code(tks[0]), code(tks[1]), code(tks[2])
		_, strangerKey, _ := ed25519.GenerateKey(nil)
		resigned, _ := entrycode.Sign(strangerKey, entrycode.Claims{TicketID: tks[2].ID, EventID: "ev-a", CodeVersion: 1})
		forged := first.Code[:len(first.Code)-2] + "AA"
		if forged == first.Code {
			forged = first.Code[:len(first.Code)-2] + "BB"
		}
		older, _ := entrycode.Sign(s.key, entrycode.Claims{TicketID: tks[2].ID, EventID: "ev-a", CodeVersion: 0})

		tests := []struct {
			name    string
			user    session.User
			code    string
			eventID string
			want    Result
			ticket  string
			at      time.Time
		}{
			{"admitted", doorStaff, first.Code, "ev-a", ResultAdmitted, tks[0].ID, now},
			{"again", doorStaff, first.Code, "ev-a", ResultAlreadyUsed, tks[0].ID, now},
			{"by the organizer, lower case", organizer, strings.ToLower(first.Code), "ev-a", ResultAlreadyUsed, tks[0].ID, now},
			{"short form typed", doorStaff, " " + strings.ToLower(entrycode.Format(second.Short)) + "\n", "ev-a", ResultAdmitted, tks[1].ID, now},
			{"without eventId", doorStaff, entrycode.Format(second.Short), "", ResultAlreadyUsed, tks[1].ID, now},
			{"another event's code", doorStaff, code(other).Code, "ev-a", ResultWrongEvent, other.ID, time.Time{}},
			{"another event's short form", doorStaff, code(other).Short, "ev-a", ResultWrongEvent, other.ID, time.Time{}},
			{"forged", doorStaff, forged, "ev-a", ResultInvalid, "", time.Time{}},
			{"truncated", doorStaff, third.Code[:len(third.Code)-10], "ev-a", ResultInvalid, "", time.Time{}},
			{"re-signed", doorStaff, resigned, "ev-a", ResultInvalid, "", time.Time{}},
			{"malformed", doorStaff, "T1.???", "ev-a", ResultInvalid, "", time.Time{}},
			{"oversized", doorStaff, "T1." + strings.Repeat("A", 5000), "ev-a", ResultInvalid, "", time.Time{}},
			{"unknown short form", doorStaff, "0000-0000-0000", "ev-a", ResultInvalid, "", time.Time{}},
			{"short form cut", doorStaff, third.Short[:8], "ev-a", ResultInvalid, "", time.Time{}},
			{"older code version", doorStaff, older, "ev-a", ResultVoid, tks[2].ID, time.Time{}},
		}
		for _, tc := range tests {
			got, err := s.CheckInCode(ctx, tc.user, tc.code, tc.eventID)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if got.Result != tc.want || got.TicketID != tc.ticket || !got.CheckedInAt.Equal(tc.at) {
				t.Errorf("%s: %+v, want %s of %q at %v", tc.name, got, tc.want, tc.ticket, tc.at)
			}
		}
		// The admissions were kept: one row per ticket, by whom.
		var n int
		var by string
		_ = db.Read().QueryRow(`SELECT count(*), min(by_email) FROM checkins`).Scan(&n, &by)
		if n != 2 || by != "door@example.com" {
			t.Errorf("checkins = %d by %q, want 2 by door@example.com", n, by)
		}

		refused := []struct {
			name    string
			user    session.User
			code    string
			eventID string
			want    error
		}{
			{"stranger", stranger, third.Code, "ev-a", ErrNotDoorStaff},
			{"stranger without eventId", stranger, third.Code, "", ErrNotDoorStaff},
			{"staff of another event", doorStaff, code(other).Code, "ev-unknown", ErrNotDoorStaff},
			{"invalid without eventId", doorStaff, "nonsense", "", ErrNotDoorStaff},
			{"no code", doorStaff, "  ", "ev-a", ErrCodeRequired},
			{"bad eventId", doorStaff, third.Code, "ev a/../", ErrBadEventID},
		}
		for _, tc := range refused {
			if _, err := s.CheckInCode(ctx, tc.user, tc.code, tc.eventID); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}

		// Cancelling the event voids every code, used or not.
		if err := s.CancelEvent(ctx, "ev-a"); err != nil {
			t.Fatal(err)
		}
		cancelled := doorShow("ev-a", 3)
		cancelled.Version, cancelled.Status = 1, events.EventStatusCancelled
		if err := s.applyDoorEvent(ctx, cancelled, false); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{third.Code, third.Short, first.Code} {
			if got, err := s.CheckInCode(ctx, doorStaff, c, "ev-a"); err != nil || got.Result != ResultVoid {
				t.Errorf("after cancellation %s: %+v, %v, want void", c[:6], got, err)
			}
		}
	}, migs...)
}

// TestCheckInAtOnce: 50 doors scan one code at the same instant: exactly
// one is admitted, the other 49 find it already used.
func TestCheckInAtOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := heldTickets(t, s, doorShow("ev-rush", 1))[0]
		c, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		const doors = 50
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]Result, doors)
			errs    = make([]error, doors)
		)
		for i := range doors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				code := c.Code
				if i%2 == 1 {
					code = c.Short
				}
				got, err := s.CheckInCode(ctx, doorStaff, code, "ev-rush")
				results[i], errs[i] = got.Result, err
			}()
		}
		close(start)
		wg.Wait()
		count := map[Result]int{}
		for i := range doors {
			if errs[i] != nil {
				t.Fatalf("door %d: %v", i, errs[i])
			}
			count[results[i]]++
		}
		if count[ResultAdmitted] != 1 || count[ResultAlreadyUsed] != doors-1 {
			t.Fatalf("results = %v, want 1 admitted and %d already_used", count, doors-1)
		}
	}, migs...)
}

// TestDoorEventListeners: through the bus, the replica of who may check
// in follows event.created/updated/cancelled, delivered twice and out of
// order.
func TestDoorEventListeners(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		v0 := show("ev-door", 2)
		v1 := v0
		v1.Version, v1.Staff = 1, []string{"A@Example.com"}
		v2 := v1
		v2.Version, v2.Staff = 2, []string{"a@example.com", "b@example.com"}
		v3 := v2
		v3.Version, v3.Status = 3, events.EventStatusCancelled
		// The cancellation and the updates come before the creation, and
		// twice.
		h.publish(events.EventCancelled{EventState: v3}, events.EventUpdated{EventState: v2},
			events.EventUpdated{EventState: v1}, events.EventUpdated{EventState: v2})
		h.publish(events.EventCreated{EventState: v0}, events.EventUpdated{EventState: v1}, events.EventCreated{EventState: v0})
		natsbustest.Eventually(t, 30*time.Second, "the replica at version 3", func() bool {
			e, err := h.s.store.DoorEvent(context.Background(), "ev-door")
			return err == nil && e.Version == 3
		})
		e, _ := h.s.store.DoorEvent(context.Background(), "ev-door")
		if e.Status != events.EventStatusCancelled || strings.Join(e.Staff, ",") != "a@example.com,b@example.com" || e.OrganizerID != "organizer" {
			t.Fatalf("replica = %+v", e)
		}
		natsbustest.Eventually(t, 15*time.Second, "event.* acked", func() bool {
			for _, subj := range []events.Subject{events.SubjectEventCreated, events.SubjectEventUpdated, events.SubjectEventCancelled} {
				info := h.consumerInfo(subj)
				if info.NumPending > 0 || info.NumAckPending > 0 || info.AckFloor.Stream < h.lastSeq(subj) {
					return false
				}
			}
			return true
		})
	}, migs...)
}

// TestCheckInHTTP: the two routes through the real handler.
func TestCheckInHTTP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db)
		h := handler(s)
		tk := heldTickets(t, s, doorShow("ev-http", 1))[0]

		r := httpapitest.Do(t, h, "GET", "/api/tickets/"+tk.ID+"/code", &buyer, "")
		if r.Status != http.StatusOK {
			t.Fatalf("code: %d %s", r.Status, r.Body)
		}
		var code struct {
			TicketID, EventID, Code, Short string
			CodeVersion                    int64
		}
		if err := json.Unmarshal(r.Body, &code); err != nil {
			t.Fatal(err)
		}
		if code.TicketID != tk.ID || code.EventID != "ev-http" || code.CodeVersion != 1 ||
			!strings.HasPrefix(code.Code, entrycode.Prefix) || len(code.Short) != 14 || code.Short[4] != '-' {
			t.Fatalf("code = %s", r.Body)
		}
		for _, tc := range []struct {
			name   string
			user   *session.User
			status int
		}{{"signed out", nil, 401}, {"stranger", &stranger, 404}, {"organizer", &organizer, 404}} {
			if r := httpapitest.Do(t, h, "GET", "/api/tickets/"+tk.ID+"/code", tc.user, ""); r.Status != tc.status {
				t.Errorf("code by %s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
			}
		}

		checkin := func(user *session.User, body string) (int, map[string]any, string) {
			t.Helper()
			r := httpapitest.Do(t, h, "POST", "/api/checkins", user, body)
			var m map[string]any
			_ = json.Unmarshal(r.Body, &m)
			return r.Status, m, string(r.Body)
		}
		body := `{"code":"` + code.Code + `","eventId":"ev-http"}`
		status, m, raw := checkin(&doorStaff, body)
		if status != 200 || m["result"] != "admitted" || m["checkedInAt"] == nil {
			t.Fatalf("check-in: %d %s", status, raw)
		}
		if tkt, _ := m["ticket"].(map[string]any); tkt["id"] != tk.ID || tkt["eventId"] != "ev-http" {
			t.Fatalf("check-in ticket: %s", raw)
		}
		at := m["checkedInAt"]
		status, m, raw = checkin(&doorStaff, `{"code":"`+code.Short+`"}`)
		if status != 200 || m["result"] != "already_used" || m["checkedInAt"] != at {
			t.Fatalf("second check-in: %d %s (first at %v)", status, raw, at)
		}
		status, m, raw = checkin(&doorStaff, `{"code":"T1.AAAA.BBBB","eventId":"ev-http"}`)
		if status != 200 || m["result"] != "invalid" || m["ticket"] != nil || m["checkedInAt"] != nil {
			t.Fatalf("invalid check-in: %d %s", status, raw)
		}
		for _, tc := range []struct {
			name   string
			user   *session.User
			body   string
			status int
			code   string
		}{
			{"signed out", nil, body, 401, "unauthorized"},
			{"stranger", &stranger, body, 403, "not_door_staff"},
			{"no code", &doorStaff, `{"eventId":"ev-http"}`, 400, "invalid"},
			{"code not a string", &doorStaff, `{"code":5}`, 400, ""},
			{"unknown field", &doorStaff, `{"code":"x","door":1}`, 400, ""},
		} {
			r := httpapitest.Do(t, h, "POST", "/api/checkins", tc.user, tc.body)
			if r.Status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
				continue
			}
			if tc.code != "" && !strings.Contains(string(r.Body), `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %s, want code %s", tc.name, r.Body, tc.code)
			}
		}

		if err := s.CancelEvent(context.Background(), "ev-http"); err != nil {
			t.Fatal(err)
		}
		r = httpapitest.Do(t, h, "GET", "/api/tickets/"+tk.ID+"/code", &buyer, "")
		if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "ticket_void") {
			t.Fatalf("code of a void ticket: %d %s", r.Status, r.Body)
		}
		var fe *fault.Error
		if !errors.As(ErrTicketVoid, &fe) || fe.Kind != fault.Conflict {
			t.Fatal("ErrTicketVoid is not a conflict")
		}
	}, migs...)
}

// TestCodeOfTicketHeldBefore: a ticket held before short forms were
// stored gets its short form when its holder first asks for the code.
func TestCodeOfTicketHeldBefore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newTestService(t, db)
		tk := heldTickets(t, s, doorShow("ev-old", 1))[0]
		if err := exec(db, `DELETE FROM entry_codes`); err != nil {
			t.Fatal(err)
		}
		c, err := s.Code(ctx, buyer.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.CheckInCode(ctx, doorStaff, c.Short, "ev-old"); err != nil || got.Result != ResultAdmitted {
			t.Fatalf("short form after the holder's first look = %+v, %v, want admitted", got, err)
		}
	}, migs...)
}

// TestCheckInAfterTheEnd: a door admits latecomers until the event's end
// (endsAt, from the replica) and nobody after it (event_ended, nothing
// recorded); a ticket admitted before still reads already_used; an edit
// that moves the end is followed; an event without endsAt ends
// events.DefaultEventLength after its start.
func TestCheckInAfterTheEnd(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ev := doorShow("ev-end", 3)
		ev.EndsAt = ev.StartsAt.Add(2 * time.Hour)
		now := ev.StartsAt.Add(time.Hour)
		s := chunked(t, db, 0, func() time.Time { return now })
		tks := heldTickets(t, s, ev)
		noEnd := heldTickets(t, s, doorShow("ev-no-end", 2))
		scan := func(tk Ticket, eventID string) CheckIn {
			t.Helper()
			c, err := s.Code(ctx, buyer.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.CheckInCode(ctx, doorStaff, c.Code, eventID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		admittedAt := now
		if got := scan(tks[0], "ev-end"); got.Result != ResultAdmitted {
			t.Fatalf("a latecomer an hour after the start: %+v", got)
		}
		now = ev.EndsAt
		if got := scan(tks[1], "ev-end"); got.Result != ResultEventEnded || !got.CheckedInAt.IsZero() || got.TicketID != tks[1].ID {
			t.Fatalf("at the end: %+v, want event_ended", got)
		}
		if got := scan(tks[0], "ev-end"); got.Result != ResultAlreadyUsed || !got.CheckedInAt.Equal(admittedAt) {
			t.Fatalf("the admitted ticket after the end: %+v, want already_used at %v", got, admittedAt)
		}
		var n int
		_ = db.Read().QueryRow(`SELECT count(*) FROM checkins WHERE event_id = 'ev-end'`).Scan(&n)
		if n != 1 {
			t.Fatalf("checkins = %d, want the one before the end", n)
		}
		moved := ev
		moved.Version, moved.EndsAt = 1, ev.EndsAt.Add(time.Hour)
		if err := s.applyDoorEvent(ctx, moved, false); err != nil {
			t.Fatal(err)
		}
		if got := scan(tks[1], "ev-end"); got.Result != ResultAdmitted {
			t.Fatalf("the end moved an hour later: %+v, want admitted", got)
		}
		now = moved.EndsAt
		if got := scan(tks[2], "ev-end"); got.Result != ResultEventEnded {
			t.Fatalf("at the moved end: %+v, want event_ended", got)
		}
		// ev-no-end starts when ev-end does and has no endsAt.
		now = ev.StartsAt.Add(events.DefaultEventLength - time.Millisecond)
		if got := scan(noEnd[0], "ev-no-end"); got.Result != ResultAdmitted {
			t.Fatalf("without endsAt, just before start + DefaultEventLength: %+v, want admitted", got)
		}
		now = ev.StartsAt.Add(events.DefaultEventLength)
		if got := scan(noEnd[1], "ev-no-end"); got.Result != ResultEventEnded {
			t.Fatalf("without endsAt, at start + DefaultEventLength: %+v, want event_ended", got)
		}
	}, migs...)
}

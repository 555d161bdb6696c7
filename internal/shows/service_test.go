package shows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestLifecyclePublishesVersions(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, _ := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz night", "Paradiso", 10))
		if _, err := s.Create(ctx, buyer, draft("x", "y", 10)); !errors.Is(err, ErrNotOrganizer) {
			t.Fatalf("a buyer creates: %v", err)
		}
		name := "Jazz late night"
		if _, err := s.Update(ctx, rival, e.ID, Draft{Name: &name}); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("another organizer edits: %v", err)
		}
		up, err := s.Update(ctx, organizer, e.ID, Draft{Name: &name})
		if err != nil || up.Name != name || up.Venue != "Paradiso" || up.Version != 1 {
			t.Fatalf("update: %+v %v", up, err)
		}
		capacity := 101
		if _, err := s.Update(ctx, organizer, e.ID, Draft{Capacity: &capacity}); !errors.Is(err, ErrCapacityLocked) {
			t.Fatalf("capacity change: %v", err)
		}
		if _, err := s.AddStaff(ctx, organizer, e.ID, " Door@Example.com "); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddStaff(ctx, organizer, e.ID, "door@example.com"); err != nil { // no change
			t.Fatal(err)
		}
		if _, err := s.AddStaff(ctx, organizer, e.ID, "not an email"); err == nil {
			t.Fatal("a bad staff email was accepted")
		}
		if _, err := s.AddStaff(ctx, organizer, e.ID, "gate@example.com"); err != nil {
			t.Fatal(err)
		}
		got, err := s.RemoveStaff(ctx, organizer, e.ID, "DOOR@example.com")
		if err != nil || !slices.Equal(got.Staff, []string{"gate@example.com"}) || got.Version != 4 {
			t.Fatalf("remove staff: %+v %v", got, err)
		}
		if _, err := s.Cancel(ctx, rival, e.ID); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("another organizer cancels: %v", err)
		}
		c, err := s.Cancel(ctx, organizer, e.ID)
		if err != nil || c.Status != StatusCancelled || c.Version != 5 {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		if _, err := s.Cancel(ctx, organizer, e.ID); err != nil {
			t.Fatalf("cancel again: %v", err)
		}
		if _, err := s.Update(ctx, organizer, e.ID, Draft{Name: &name}); !errors.Is(err, ErrCancelled) {
			t.Fatalf("edit after cancel: %v", err)
		}
		if _, err := s.Get(ctx, "no such id"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get unknown: %v", err)
		}

		var subjects []string
		var staff [][]string
		for i, p := range outboxEvents(t, db) {
			if p.State.ID != e.ID || p.State.Version != int64(i) {
				t.Fatalf("event %d: %+v, want version %d of %s", i, p.State, i, e.ID)
			}
			subjects, staff = append(subjects, p.Subject), append(staff, p.State.Staff)
		}
		want := []string{events.SubjectEventCreated, events.SubjectEventUpdated, events.SubjectEventUpdated,
			events.SubjectEventUpdated, events.SubjectEventUpdated, events.SubjectEventCancelled}
		if !slices.Equal(subjects, want) {
			t.Fatalf("subjects %v, want %v", subjects, want)
		}
		if !slices.Equal(staff[3], []string{"door@example.com", "gate@example.com"}) {
			t.Fatalf("event.updated v3 staff %v", staff[3])
		}
	}, migs...)
}

func TestListUpcoming(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, clk := newTestService(t, db)
		soon := mustCreate(t, s, draft("Opéra Night", "Concertgebouw Amsterdam", 3))
		later := mustCreate(t, s, draft("Rock", "Ziggo Dome, Amsterdam", 5))
		mustCreate(t, s, draft("Opera matinee", "Rotterdam Ahoy", 7))
		cancelled := mustCreate(t, s, draft("Opera gone", "Amsterdam", 4))
		if _, err := s.Cancel(ctx, organizer, cancelled.ID); err != nil {
			t.Fatal(err)
		}
		names := func(l Listing) []string {
			t.Helper()
			list, err := s.List(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range list {
				out = append(out, e.Name)
			}
			return out
		}
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"", []string{"Opéra Night", "Rock", "Opera matinee"}},
			{"opera", []string{"Opéra Night", "Opera matinee"}},
			{"amsterdam OPER", []string{"Opéra Night"}},
			{"dome rock", []string{"Rock"}},
			{"amster", []string{"Opéra Night", "Rock"}},
			{`"opera" OR * -rock NEAR(':*&!`, nil},
			{"nothing", nil},
		} {
			if got := names(Listing{Search: tc.q}); !slices.Equal(got, tc.want) {
				t.Errorf("q=%q: %v, want %v", tc.q, got, tc.want)
			}
		}
		// Paging after the first event, then that event moved later.
		if got := names(Listing{Limit: 1, After: soon.ID, AfterStartsAt: soon.StartsAt}); !slices.Equal(got, []string{"Rock"}) {
			t.Errorf("page after the first: %v", got)
		}
		if _, err := s.List(ctx, Listing{After: "bad id!"}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
		// Once an event starts, it is no longer upcoming.
		clk.Advance(later.StartsAt.Sub(clocktest.Start))
		if got := names(Listing{}); !slices.Equal(got, []string{"Opera matinee"}) {
			t.Errorf("after Rock started: %v", got)
		}
		mine, err := s.Mine(ctx, organizer.ID)
		if err != nil || len(mine) != 4 {
			t.Fatalf("mine: %d %v", len(mine), err)
		}
		if other, _ := s.Mine(ctx, rival.ID); len(other) != 0 {
			t.Fatalf("a rival's events: %v", other)
		}
	}, migs...)
}

func TestEditOfAStartedEvent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, clk := newTestService(t, db)
		e := mustCreate(t, s, draft("Jazz", "Paradiso", 1))
		clk.Advance(25 * time.Hour)
		name := "Late"
		if _, err := s.Update(context.Background(), organizer, e.ID, Draft{Name: &name}); !errors.Is(err, ErrEnded) {
			t.Fatalf("edit after the start: %v", err)
		}
	}, migs...)
}

// TestEventEnds: a scheduled event reads ended from its endsAt on (or
// startsAt plus DefaultLength when it was left out), in Get, Mine and over
// HTTP, without any write or message; it refuses changes then, and a
// cancelled event stays cancelled.
func TestEventEnds(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, clk := newTestService(t, db)
		d := draft("Jazz", "Paradiso", 1)
		ends := d.StartsAt.Add(2 * time.Hour)
		d.EndsAt = &ends
		e := mustCreate(t, s, d)
		dflt := mustCreate(t, s, draft("Rock", "Ziggo Dome", 1)) // ends DefaultLength after its start
		gone := mustCreate(t, s, draft("Opera", "Ahoy", 1))
		if _, err := s.Cancel(ctx, organizer, gone.ID); err != nil {
			t.Fatal(err)
		}
		published := len(outboxEvents(t, db))
		status := func(id string) Status {
			t.Helper()
			got, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}
		clk.Advance(ends.Sub(clocktest.Start) - time.Millisecond)
		if st := status(e.ID); st != StatusScheduled {
			t.Fatalf("a millisecond before its end: %s", st)
		}
		clk.Advance(time.Millisecond)
		if st := status(e.ID); st != StatusEnded {
			t.Fatalf("at its end: %s, want ended", st)
		}
		if st := status(dflt.ID); st != StatusScheduled {
			t.Fatalf("without endsAt, 2 h after the start: %s", st)
		}
		clk.Advance(DefaultLength - 2*time.Hour)
		if st := status(dflt.ID); st != StatusEnded {
			t.Fatalf("without endsAt, DefaultLength after the start: %s, want ended", st)
		}
		if st := status(gone.ID); st != StatusCancelled {
			t.Fatalf("a cancelled event after its end: %s", st)
		}
		mine, err := s.Mine(ctx, organizer.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mine {
			if m.ID != gone.ID && m.Status != StatusEnded {
				t.Errorf("mine: %s is %s, want ended", m.Name, m.Status)
			}
		}
		r := httpapitest.Do(t, handler(s), "GET", "/api/events/"+e.ID, nil, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"ended"`) {
			t.Errorf("GET the event: %d %s, want status ended", r.Status, r.Body)
		}
		if _, err := s.Cancel(ctx, organizer, e.ID); !errors.Is(err, ErrEnded) {
			t.Errorf("cancel an ended event: %v", err)
		}
		if _, err := s.AddStaff(ctx, organizer, e.ID, "late@example.com"); !errors.Is(err, ErrEnded) {
			t.Errorf("staff for an ended event: %v", err)
		}
		if n := len(outboxEvents(t, db)); n != published {
			t.Errorf("%d events published after the end, want none", n-published)
		}
	}, migs...)
}

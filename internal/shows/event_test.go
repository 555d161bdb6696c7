package shows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

func ptr[T any](v T) *T { return &v }

func TestDraftFieldsDefaults(t *testing.T) {
	now := clocktest.Start
	f, err := draft("Jazz", "Paradiso", 10).fields(now)
	if err != nil {
		t.Fatal(err)
	}
	if f.TimeZone != "UTC" || !f.OnSaleAt.Equal(now) || !f.EndsAt.Equal(f.StartsAt.Add(DefaultLength)) ||
		f.ResaleCapPercent != 100 || !f.Transfers || f.Queue {
		t.Fatalf("defaults: %+v", f)
	}
}

func TestDraftFieldsProblems(t *testing.T) {
	now := clocktest.Start
	for _, tc := range []struct {
		name   string
		edit   func(d *Draft)
		fields []string
	}{
		{"valid", func(d *Draft) {}, nil},
		{"empty name and venue", func(d *Draft) { d.Name, d.Venue = ptr("  "), ptr("") }, []string{"name", "venue"}},
		{"missing required", func(d *Draft) { d.Name, d.StartsAt, d.FaceValue, d.Capacity = nil, nil, nil, nil },
			[]string{"name", "startsAt", "faceValue", "capacity"}},
		{"long name", func(d *Draft) { d.Name = ptr(strings.Repeat("é", 201)) }, []string{"name"}},
		{"200 characters", func(d *Draft) { d.Name = ptr(strings.Repeat("é", 200)) }, nil},
		{"control character", func(d *Draft) { d.Venue = ptr("Hall\x1b[31m") }, []string{"venue"}},
		{"bad zone", func(d *Draft) { d.TimeZone = ptr("Mars/Olympus") }, []string{"timeZone"}},
		{"local zone", func(d *Draft) { d.TimeZone = ptr("Local") }, []string{"timeZone"}},
		{"path zone", func(d *Draft) { d.TimeZone = ptr("../../etc/passwd") }, []string{"timeZone"}},
		{"a zone", func(d *Draft) { d.TimeZone = ptr("Europe/Amsterdam") }, nil},
		{"past start", func(d *Draft) { d.StartsAt = ptr(now.Add(-time.Hour)) }, []string{"startsAt"}},
		{"start now", func(d *Draft) { d.StartsAt = ptr(now) }, []string{"startsAt"}},
		{"end before start", func(d *Draft) { d.EndsAt = ptr(d.StartsAt.Add(-time.Minute)) }, []string{"endsAt"}},
		{"ends past 9999", func(d *Draft) { d.StartsAt = ptr(time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)) }, []string{"endsAt"}},
		{"on sale after start", func(d *Draft) { d.OnSaleAt = ptr(d.StartsAt.Add(time.Minute)) }, []string{"onSaleAt"}},
		{"on sale in the past", func(d *Draft) { d.OnSaleAt = ptr(now.Add(-24 * time.Hour)) }, nil},
		{"zero face value", func(d *Draft) { d.FaceValue = ptr(money.Cents(0)) }, []string{"faceValue"}},
		{"dear face value", func(d *Draft) { d.FaceValue = ptr(MaxFaceValue + 1) }, []string{"faceValue"}},
		{"no capacity", func(d *Draft) { d.Capacity = ptr(0) }, []string{"capacity"}},
		{"most capacity", func(d *Draft) { d.Capacity = ptr(MaxCapacity) }, nil},
		{"too much capacity", func(d *Draft) { d.Capacity = ptr(MaxCapacity + 1) }, []string{"capacity"}},
		{"low resale cap", func(d *Draft) { d.ResaleCapPercent = ptr(99) }, []string{"resaleCapPercent"}},
		{"high resale cap", func(d *Draft) { d.ResaleCapPercent = ptr(151) }, []string{"resaleCapPercent"}},
		{"unreadable start reported once", func(d *Draft) {
			d.StartsAt = nil
			d.Problems.Add("startsAt", "startsAt must be a time")
		}, []string{"startsAt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := draft("Jazz", "Paradiso", 10)
			tc.edit(&d)
			_, err := d.fields(now)
			var got []string
			if p, ok := err.(fault.Problems); ok {
				for _, pr := range p {
					got = append(got, pr.Field)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want problems", err)
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("problems of %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestDraftOverKeepsLength(t *testing.T) {
	cur, err := draft("Jazz", "Paradiso", 10).fields(clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	cur.EndsAt = cur.StartsAt.Add(2 * time.Hour)
	later := cur.StartsAt.Add(24 * time.Hour)
	f, err := Draft{StartsAt: &later}.over(cur, clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	if !f.StartsAt.Equal(later) || f.EndsAt.Sub(f.StartsAt) != 2*time.Hour || f.Name != "Jazz" {
		t.Fatalf("over: %+v", f)
	}
}

func TestEventRules(t *testing.T) {
	base := func() Event {
		return Event{ID: "e1", OrganizerID: organizer.ID, Status: StatusScheduled, Staff: []string{"a@example.com"}}
	}
	e := base()
	if err := e.AddStaff(rival.ID, "b@example.com"); err != ErrNotOwner {
		t.Fatalf("a stranger adds staff: %v", err)
	}
	if err := e.AddStaff(organizer.ID, "a@example.com"); err != errNoChange {
		t.Fatalf("adding staff twice: %v", err)
	}
	if err := e.RemoveStaff(organizer.ID, "z@example.com"); err != errNoChange {
		t.Fatalf("removing absent staff: %v", err)
	}
	if err := e.Cancel(organizer.ID); err != nil || e.Status != StatusCancelled {
		t.Fatalf("cancel: %v %s", err, e.Status)
	}
	if err := e.Cancel(organizer.ID); err != errNoChange {
		t.Fatalf("cancel twice: %v", err)
	}
	if err := e.AddStaff(organizer.ID, "b@example.com"); err != ErrCancelled {
		t.Fatalf("staff of a cancelled event: %v", err)
	}
	e = base()
	e.StartsAt, e.Capacity = clocktest.Start.Add(time.Hour), 10
	if err := e.Edit(organizer.ID, Draft{Capacity: ptr(11)}, clocktest.Start); err != ErrCapacityLocked {
		t.Fatalf("capacity change: %v", err)
	}
	e.FaceValue, e.OnSaleAt = 4000, clocktest.Start
	price, same := money.Cents(4500), money.Cents(4000)
	later, sameTime := clocktest.Start.Add(time.Minute), clocktest.Start
	if err := e.Edit(organizer.ID, Draft{FaceValue: &price}, clocktest.Start); err != ErrFaceValueLocked {
		t.Fatalf("face value change: %v", err)
	}
	if err := e.Edit(organizer.ID, Draft{OnSaleAt: &later}, clocktest.Start); err != ErrOnSaleLocked {
		t.Fatalf("on-sale change: %v", err)
	}
	// (This bare event fails other checks; only the locks matter here.)
	if err := e.Edit(organizer.ID, Draft{FaceValue: &same, OnSaleAt: &sameTime, Capacity: ptr(10)}, clocktest.Start); err == ErrFaceValueLocked ||
		err == ErrOnSaleLocked || err == ErrCapacityLocked {
		t.Fatalf("an edit that sends the fixed fields unchanged: %v", err)
	}
	// Before the on-sale, with every ticket issued, both may change.
	e.OnSaleAt, e.TicketsIssued = clocktest.Start.Add(30*time.Minute), 10
	if err := e.Edit(organizer.ID, Draft{FaceValue: &price, OnSaleAt: &later}, clocktest.Start); err == ErrFaceValueLocked || err == ErrOnSaleLocked {
		t.Fatalf("face value and on-sale change before the on-sale: %v", err)
	}
	e.TicketsIssued = 9
	if err := e.Edit(organizer.ID, Draft{FaceValue: &price}, clocktest.Start); err != ErrFaceValueLocked {
		t.Fatalf("face value change while issuing: %v", err)
	}
	if err := e.Edit(organizer.ID, Draft{Capacity: ptr(10)}, clocktest.Start.Add(time.Hour)); err != ErrEnded {
		t.Fatalf("edit of a started event: %v", err)
	}
}

func TestEmailProblem(t *testing.T) {
	for email, ok := range map[string]bool{
		"door@example.com": true, "": false, "door": false, "door@localhost": false,
		"Door <door@example.com>": false, "a@b.c": true, strings.Repeat("a", 250) + "@b.co": false,
	} {
		if got := emailProblem(email) == ""; got != ok {
			t.Errorf("emailProblem(%q) ok = %v, want %v", email, got, ok)
		}
	}
}

// Package shows is the events part (DESIGN.md sections 1 and 9.1): the
// organizers' events (a concert, a match) whose tickets the platform
// issues, their door staff, and each event's count of tickets left. Its
// Go name is not "events" because internal/events holds the contracts
// every service shares (this part's among them: event.created,
// event.updated, event.cancelled); "shows" is the part's package, "events"
// its name everywhere else (its routes /api/events, `ticketing serve
// events`, its database, its durable consumers events-ticket-created...).
//
// It serves /api/events, publishes event.created, event.updated and
// event.cancelled through its outbox, and listens to ticket.created and
// ticket.updated to count the tickets of each event on sale.
package shows

import (
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// The zones are built in: a container image may have no zoneinfo.
	_ "time/tzdata"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Name is the part's name: its migration set, its PostgreSQL schema, the
// prefix of its durable consumers (events-ticket-created, ...) and the
// argument of `ticketing serve`.
const Name = "events"

const (
	// MaxText is the longest name or venue, in characters (runes).
	MaxText = 200
	// MaxFaceValue is the highest face value: 1,000,000 dollars, as a
	// ticket's price.
	MaxFaceValue money.Cents = 1_000_000_00
	// MaxCapacity is the most tickets one event issues.
	MaxCapacity = 100_000
	// MinResaleCap and MaxResaleCap bound resaleCapPercent: a resale may
	// ask face value up to one and a half times it.
	MinResaleCap, MaxResaleCap = 100, 150
	// DefaultLength is how long an event lasts when its endsAt is left
	// out.
	DefaultLength = events.DefaultEventLength
	// MaxStaff is the most door staff one event may have.
	MaxStaff = 100
	// maxEmail is the longest staff email (RFC 5321's path limit).
	maxEmail = 254
)

// Status is where an event is in its life (DESIGN.md section 9.1).
type Status string

const (
	StatusScheduled Status = events.EventStatusScheduled
	StatusCancelled Status = events.EventStatusCancelled
	StatusEnded     Status = events.EventStatusEnded
)

// Event is one organizer's event. Version is 0 when created and moves on
// by one with every change, as its events carry it.
type Event struct {
	ID          string
	OrganizerID string
	Fields
	Status  Status
	Version int64
	// Staff are the lower-cased emails of the door staff, in the order
	// they were added.
	Staff []string
	// TicketsLeft is how many of its tickets are on sale now, as the
	// tickets part last told (ticket.created, ticket.updated).
	TicketsLeft int64
	// TicketsIssued is how many of its Capacity tickets the tickets part
	// has issued so far: fewer than Capacity for a moment after creation,
	// while it issues them in chunks.
	TicketsIssued int64
	CreatedAt     time.Time
}

// Fields are what an organizer chooses about an event.
type Fields struct {
	Name     string
	Venue    string
	TimeZone string
	StartsAt time.Time
	EndsAt   time.Time
	OnSaleAt time.Time
	// FaceValue is each ticket's price at the primary sale.
	FaceValue money.Cents
	// Capacity is how many tickets the event issues; fixed once created.
	Capacity int
	// ResaleCapPercent is the highest resale price, in percent of
	// FaceValue.
	ResaleCapPercent int
	// Transfers says whether holders may pass tickets on for free.
	Transfers bool
	// Queue says whether the on-sale opens through a waiting room.
	Queue bool
}

// check trims the texts and adds a problem for each field at fault, now
// being the time of the request. skip names fields the HTTP edge already
// reported (a face value or time it could not read), so a second message
// about the same field does not confuse.
func (f *Fields) check(p *fault.Problems, now time.Time, skip map[string]bool) {
	f.Name = strings.TrimSpace(f.Name)
	f.Venue = strings.TrimSpace(f.Venue)
	f.TimeZone = strings.TrimSpace(f.TimeZone)
	checkText(p, "name", "Name", f.Name)
	checkText(p, "venue", "Venue", f.Venue)
	if msg := zoneProblem(f.TimeZone); msg != "" {
		p.Add("timeZone", msg)
	}
	startOK := !skip["startsAt"] && f.StartsAt.After(now)
	if !skip["startsAt"] && !startOK {
		p.Add("startsAt", "startsAt must be in the future")
	}
	// endsAt and onSaleAt are judged against a good startsAt only.
	switch {
	case !startOK || skip["endsAt"]:
	case !f.EndsAt.After(f.StartsAt):
		p.Add("endsAt", "endsAt must be after startsAt")
	case f.EndsAt.Year() > 9999:
		// A default (startsAt + 4 h) or a kept length can pass the last
		// year RFC 3339, and so the event's JSON, can write.
		p.Add("endsAt", "endsAt must be before the year 10000")
	}
	if startOK && !skip["onSaleAt"] && !f.OnSaleAt.Before(f.StartsAt) {
		p.Add("onSaleAt", "onSaleAt must be before startsAt")
	}
	if !skip["faceValue"] {
		switch {
		case f.FaceValue <= 0:
			p.Add("faceValue", "faceValue must be greater than 0")
		case f.FaceValue > MaxFaceValue:
			p.Add("faceValue", "faceValue must be at most 1000000")
		}
	}
	if !skip["capacity"] && (f.Capacity < 1 || f.Capacity > MaxCapacity) {
		p.Add("capacity", "capacity must be a whole number from 1 to 100000")
	}
	if !skip["resaleCapPercent"] && (f.ResaleCapPercent < MinResaleCap || f.ResaleCapPercent > MaxResaleCap) {
		p.Add("resaleCapPercent", "resaleCapPercent must be a whole number from 100 to 150")
	}
}

// checkText adds the problem of a name or venue: 1 to MaxText characters
// of one line of valid text.
func checkText(p *fault.Problems, field, label, s string) {
	switch {
	case s == "":
		p.Add(field, label+" is required")
	case !utf8.ValidString(s):
		p.Add(field, label+" must be valid text")
	case utf8.RuneCountInString(s) > MaxText:
		p.Add(field, label+" must be at most 200 characters")
	case strings.ContainsFunc(s, unicode.IsControl):
		p.Add(field, label+" must not contain control characters")
	}
}

// zoneProblem says what is wrong with an IANA time zone name, or "".
// "Local" (the server's zone) and "" (UTC to LoadLocation) are refused:
// the caller's defaults have been applied before.
func zoneProblem(name string) string {
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsFunc(name, unicode.IsControl) {
		return "timeZone must be an IANA time zone such as Europe/Amsterdam"
	}
	if _, err := time.LoadLocation(name); err != nil {
		return "timeZone must be an IANA time zone such as Europe/Amsterdam"
	}
	return ""
}

var (
	// ErrNotOrganizer is an organizer's action by a signed-in user an
	// operator has not made an organizer.
	ErrNotOrganizer = fault.Coded(fault.Forbidden, "not_organizer", "Only organizers can create events; ask the operator to make you one")
	// ErrNotOwner is a change of an event by someone other than its
	// organizer.
	ErrNotOwner = fault.Coded(fault.Forbidden, "not_event_organizer", "Only the event's organizer can change it")
	// ErrCancelled is a change of a cancelled event.
	ErrCancelled = fault.Coded(fault.Invalid, "event_cancelled", "The event was cancelled and can no longer be changed")
	// ErrEnded is a change of an event that has ended (or, for an edit,
	// started).
	ErrEnded = fault.Coded(fault.Invalid, "event_started", "The event has started and can no longer be changed")
	// ErrCapacityLocked is an edit that changes the capacity: the tickets
	// were issued when the event was created.
	ErrCapacityLocked = &fault.Error{Kind: fault.Invalid, Code: "capacity_locked", Field: "capacity",
		Message: "capacity cannot change once the event is created: its tickets are issued"}
	// ErrFaceValueLocked and ErrOnSaleLocked are edits of what the issued
	// tickets carry once the sale has opened, or before every ticket is
	// issued. The tickets part reprices the unsold stock on event.updated
	// (RepriceStock), and orders opens the sale and prices each order from
	// the tickets: before the on-sale no order holds one, so every buyer
	// sees and pays the new values; after it, tickets already reserved or
	// sold keep the old ones, and the event would show one price while
	// some sell at another. Until every ticket is issued, a chunk issued
	// after the change could still carry the old values.
	ErrFaceValueLocked = &fault.Error{Kind: fault.Invalid, Code: "face_value_locked", Field: "faceValue",
		Message: "faceValue cannot change once the sale has opened, nor while the tickets are still being issued"}
	ErrOnSaleLocked = &fault.Error{Kind: fault.Invalid, Code: "on_sale_locked", Field: "onSaleAt",
		Message: "onSaleAt cannot change once the sale has opened, nor while the tickets are still being issued"}
	// ErrTooManyStaff is a staff member added beyond MaxStaff.
	ErrTooManyStaff = fault.Coded(fault.Invalid, "too_many_staff", "The event has the most door staff allowed")
	// errNoChange is a cancellation or staff change that changes nothing:
	// no new version, no event.
	errNoChange = errors.New("no change")
)

// Edit applies the organizer's draft to the event, at now: the fields it
// gives replace the event's, checked as a whole. Only its organizer may,
// only while it is scheduled and has not started, never its capacity (its
// tickets were issued when it was created), and its face value and
// on-sale time only before the sale opens and once every ticket is issued
// (see ErrFaceValueLocked).
func (e *Event) Edit(userID string, d Draft, now time.Time) error {
	if err := e.changeable(userID); err != nil {
		return err
	}
	if !e.StartsAt.After(now) {
		return ErrEnded
	}
	stockFixed := !now.Before(e.OnSaleAt) || e.TicketsIssued < int64(e.Capacity)
	switch {
	case d.Capacity != nil && *d.Capacity != e.Capacity:
		return ErrCapacityLocked
	case stockFixed && d.FaceValue != nil && *d.FaceValue != e.FaceValue:
		return ErrFaceValueLocked
	case stockFixed && d.OnSaleAt != nil && !d.OnSaleAt.Truncate(time.Millisecond).Equal(e.OnSaleAt):
		return ErrOnSaleLocked
	}
	f, err := d.over(e.Fields, now)
	if err != nil {
		return err
	}
	e.Fields = f
	return nil
}

// Settle makes a scheduled event whose end has come (EndsAt, at or before
// now) read ended. The status is computed on read from the clock rather
// than stored by a sweeper: nothing happens at the end that needs a
// message (the parts that care, orders and the door, judge the endsAt
// their replicas hold against their own clocks), and a computed status
// is never late. The stored row stays scheduled.
func (e *Event) Settle(now time.Time) {
	if e.Status == StatusScheduled && events.EventEnded(e.StartsAt, e.EndsAt, now) {
		e.Status = StatusEnded
	}
}

// changeable is the rule every change shares: the organizer's event, still
// scheduled.
func (e *Event) changeable(userID string) error {
	switch {
	case e.OrganizerID != userID:
		return ErrNotOwner
	case e.Status == StatusCancelled:
		return ErrCancelled
	case e.Status != StatusScheduled:
		return ErrEnded
	}
	return nil
}

// Cancel cancels the event; cancelling it again is errNoChange.
func (e *Event) Cancel(userID string) error {
	if e.OrganizerID != userID {
		return ErrNotOwner
	}
	if e.Status == StatusCancelled {
		return errNoChange
	}
	if e.Status != StatusScheduled {
		return ErrEnded
	}
	e.Status = StatusCancelled
	return nil
}

// AddStaff adds a door staff member by email (normalised); one already
// there is errNoChange.
func (e *Event) AddStaff(userID, email string) error {
	if err := e.changeable(userID); err != nil {
		return err
	}
	if slices.Contains(e.Staff, email) {
		return errNoChange
	}
	if len(e.Staff) >= MaxStaff {
		return ErrTooManyStaff
	}
	e.Staff = append(slices.Clone(e.Staff), email)
	return nil
}

// RemoveStaff removes a door staff member by email (normalised); one not
// there is errNoChange.
func (e *Event) RemoveStaff(userID, email string) error {
	if err := e.changeable(userID); err != nil {
		return err
	}
	i := slices.Index(e.Staff, email)
	if i < 0 {
		return errNoChange
	}
	e.Staff = slices.Delete(slices.Clone(e.Staff), i, i+1)
	return nil
}

// NormalizeEmail trims and lower-cases an email, as auth does, so staff
// are recognised by the email in their session token.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// emailProblem says what is wrong with a normalised staff email, or "":
// a bare address whose domain has a dot, as auth accepts at sign-up.
func emailProblem(email string) string {
	if email == "" {
		return "email is required"
	}
	a, err := mail.ParseAddress(email)
	if len(email) > maxEmail || err != nil || a.Name != "" || a.Address != email {
		return "email must be a valid email address"
	}
	domain := email[strings.LastIndexByte(email, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "email must be a valid email address"
	}
	return ""
}

// state is the event as its messages carry it.
func (e Event) state() events.EventState {
	return events.EventState{
		ID: e.ID, Version: e.Version, OrganizerID: e.OrganizerID, Name: e.Name, Venue: e.Venue,
		TimeZone: e.TimeZone, StartsAt: e.StartsAt, EndsAt: e.EndsAt, OnSaleAt: e.OnSaleAt,
		FaceValue: int64(e.FaceValue), Capacity: e.Capacity, ResaleCapPercent: e.ResaleCapPercent,
		Transfers: e.Transfers, Queue: e.Queue, Status: string(e.Status), Staff: e.Staff,
	}
}

// Draft is an event's fields as a request gives them: nil for a field
// left out. Problems are what the HTTP edge could not read at all (a time
// that is not RFC 3339, a face value with three decimals), reported beside
// the rest.
type Draft struct {
	Name, Venue, TimeZone      *string
	StartsAt, EndsAt, OnSaleAt *time.Time
	FaceValue                  *money.Cents
	Capacity, ResaleCapPercent *int
	Transfers, Queue           *bool
	Problems                   fault.Problems
}

// fields is a new event's fields from the draft, at now. Left out, the
// time zone is UTC, endsAt is startsAt plus DefaultLength, onSaleAt is
// now, resaleCapPercent 100, transfers on and the queue off; name, venue,
// startsAt, faceValue and capacity are required.
func (d Draft) fields(now time.Time) (Fields, error) {
	f := Fields{TimeZone: "UTC", OnSaleAt: now.Truncate(time.Millisecond), ResaleCapPercent: MinResaleCap, Transfers: true}
	p := slices.Clone(d.Problems)
	skip := d.skipped()
	for field, missing := range map[string]bool{
		"startsAt": d.StartsAt == nil, "faceValue": d.FaceValue == nil, "capacity": d.Capacity == nil,
	} {
		if missing && !skip[field] {
			p.Add(field, field+" is required")
			skip[field] = true
		}
	}
	if d.StartsAt != nil && d.EndsAt == nil {
		f.EndsAt = d.StartsAt.UTC().Truncate(time.Millisecond).Add(DefaultLength)
	}
	d.onto(&f)
	f.check(&p, now, skip)
	sortProblems(p)
	return f, p.Err()
}

// over is cur with the fields the draft gives, at now. When the draft
// moves startsAt but leaves endsAt out, the event keeps its length.
func (d Draft) over(cur Fields, now time.Time) (Fields, error) {
	f := cur
	p := slices.Clone(d.Problems)
	if d.StartsAt != nil && d.EndsAt == nil {
		f.EndsAt = d.StartsAt.UTC().Truncate(time.Millisecond).Add(cur.EndsAt.Sub(cur.StartsAt))
	}
	d.onto(&f)
	f.check(&p, now, d.skipped())
	sortProblems(p)
	return f, p.Err()
}

// onto copies the draft's given fields onto f.
func (d Draft) onto(f *Fields) {
	if d.Name != nil {
		f.Name = *d.Name
	}
	if d.Venue != nil {
		f.Venue = *d.Venue
	}
	if d.TimeZone != nil {
		f.TimeZone = *d.TimeZone
	}
	if d.StartsAt != nil {
		f.StartsAt = d.StartsAt.UTC().Truncate(time.Millisecond)
	}
	if d.EndsAt != nil {
		f.EndsAt = d.EndsAt.UTC().Truncate(time.Millisecond)
	}
	if d.OnSaleAt != nil {
		f.OnSaleAt = d.OnSaleAt.UTC().Truncate(time.Millisecond)
	}
	if d.FaceValue != nil {
		f.FaceValue = *d.FaceValue
	}
	if d.Capacity != nil {
		f.Capacity = *d.Capacity
	}
	if d.ResaleCapPercent != nil {
		f.ResaleCapPercent = *d.ResaleCapPercent
	}
	if d.Transfers != nil {
		f.Transfers = *d.Transfers
	}
	if d.Queue != nil {
		f.Queue = *d.Queue
	}
}

// skipped are the fields the edge already reported.
func (d Draft) skipped() map[string]bool {
	skip := map[string]bool{}
	for _, pr := range d.Problems {
		skip[pr.Field] = true
	}
	return skip
}

// fieldOrder is the order problems are reported in: the body's.
var fieldOrder = []string{"name", "venue", "timeZone", "startsAt", "endsAt", "onSaleAt", "faceValue", "capacity",
	"resaleCapPercent", "transfers", "queue"}

func sortProblems(p fault.Problems) {
	slices.SortStableFunc(p, func(a, b fault.Problem) int {
		return slices.Index(fieldOrder, a.Field) - slices.Index(fieldOrder, b.Field)
	})
}

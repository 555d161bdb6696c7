package events

import "time"

// The events part (package shows) publishes these: an organizer's event
// (a concert, a match) whose tickets the platform issues. The subject
// prefix is "event." as DESIGN.md section 9.1 names it; the Go names say
// Event for the occasion, never for a message.
const (
	SubjectEventCreated   Subject = "event.created"
	SubjectEventUpdated   Subject = "event.updated"
	SubjectEventCancelled Subject = "event.cancelled"
)

// The statuses of an event (DESIGN.md section 9.1).
const (
	EventStatusScheduled = "scheduled"
	EventStatusCancelled = "cancelled"
	EventStatusEnded     = "ended"
)

// DefaultEventLength is how long an event lasts when its organizer leaves
// endsAt out: the events part sets endsAt to startsAt plus it.
const DefaultEventLength = 4 * time.Hour

// An event with queue on sells through a waiting room (DESIGN.md 9.5)
// open from QueueOpensBefore its onSaleAt until QueueOpenAfter it: the
// events part admits buyers in that window, and orders wants an
// admission for a reservation by event until it closes.
const (
	QueueOpensBefore = 30 * time.Minute
	QueueOpenAfter   = time.Hour
)

// EventEnded reports whether an event starting at startsAt and ending at
// endsAt has ended at now: status ended is not stored or announced, every
// part reads it from its own clock and the times its replica holds
// (DESIGN.md 9.1 lists the status; docs/ARCHITECTURE.md says why it is
// computed). An endsAt left zero (a replica from before it was kept) is
// startsAt plus DefaultEventLength; both zero is never ended.
func EventEnded(startsAt, endsAt, now time.Time) bool {
	if endsAt.IsZero() {
		if startsAt.IsZero() {
			return false
		}
		endsAt = startsAt.Add(DefaultEventLength)
	}
	return !now.Before(endsAt)
}

// EventState is an event as every event.* message carries it: the whole
// record at Version (0 when created, +1 per change), so a replica that
// applies N on top of N-1 needs nothing else.
type EventState struct {
	ID          string `json:"id"`
	Version     int64  `json:"version"`
	OrganizerID string `json:"organizerId"`
	Name        string `json:"name"`
	Venue       string `json:"venue"`
	// TimeZone is the IANA zone the event takes place in
	// ("Europe/Amsterdam"), for showing its times as the venue's.
	TimeZone         string    `json:"timeZone"`
	StartsAt         time.Time `json:"startsAt"`
	EndsAt           time.Time `json:"endsAt"`
	OnSaleAt         time.Time `json:"onSaleAt"`
	FaceValue        int64     `json:"faceValue"` // cents
	Capacity         int       `json:"capacity"`
	ResaleCapPercent int       `json:"resaleCapPercent"`
	Transfers        bool      `json:"transfers"`
	Queue            bool      `json:"queue"`
	Status           string    `json:"status"`
	// Staff are the lower-cased emails of the door staff the organizer
	// added; tickets admits their check-ins by the email in their session
	// token, so no part needs auth's tables.
	Staff []string `json:"staff,omitempty"`
}

// EventCreated is published when an organizer creates an event (Version
// 0); tickets issues its Capacity tickets on it.
type EventCreated struct{ EventState }

// EventUpdated is published on every later change but the cancellation:
// an edit, a staff member added or removed. (The end of an event is no
// change: see EventEnded.)
type EventUpdated struct{ EventState }

// EventCancelled is published when the organizer cancels the event
// (Status cancelled): its tickets leave sale, every code is void and
// unpaid orders are cancelled.
type EventCancelled struct{ EventState }

func (EventCreated) Subject() Subject   { return SubjectEventCreated }
func (EventUpdated) Subject() Subject   { return SubjectEventUpdated }
func (EventCancelled) Subject() Subject { return SubjectEventCancelled }

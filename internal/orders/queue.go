package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// The waiting room (DESIGN.md 9.5): while the room of an event with
// queue on is open, a reservation by event needs the admission the
// events part signed for this buyer and this event.

// QueueRequiredCode is the code of the 403 that sends a buyer to the
// waiting room.
const QueueRequiredCode = "queue_required"

// errQueueRequired is the refusal of a reservation without a valid
// admission; its message names the room's page.
func errQueueRequired(eventID string) error {
	return fault.Coded(fault.Forbidden, QueueRequiredCode,
		"This event's sale goes through a waiting room: join it at /events/"+eventID+"/queue")
}

// queueUntil is sale_events.queue_until of ev: when its room closes, or
// NULL without a queue.
func queueUntil(ev events.EventState) sql.NullInt64 {
	if !ev.Queue || ev.OnSaleAt.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ev.OnSaleAt.Add(events.QueueOpenAfter).UnixMilli(), Valid: true}
}

// CheckAdmission refuses (403 queue_required) a reservation of userID by
// event while the event's waiting room is open, unless token is a valid
// admission of this user to this event. An event orders has no times of
// yet, or one without a queue, needs none.
func (s *Service) CheckAdmission(ctx context.Context, userID, eventID, token string) error {
	if !ids.Valid(eventID) {
		return nil // ReserveFromEvent answers 404
	}
	var until sql.NullInt64
	err := sqldb.Err(s.db.Read().QueryRowContext(ctx, `SELECT queue_until FROM sale_events WHERE id = $1`, eventID).Scan(&until))
	switch {
	case errors.Is(err, sqldb.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("queue of event %s: %w", eventID, err)
	}
	now := s.cfg.Now()
	if !until.Valid || now.UnixMilli() >= until.Int64 {
		return nil
	}
	if admission.Verify(s.cfg.AdmissionKey, token, userID, eventID, now) != nil {
		return errQueueRequired(eventID)
	}
	return nil
}

// queueRequired points the caller at the room in a Link header when err
// is the queue's refusal.
func queueRequired(w http.ResponseWriter, eventID string, err error) {
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Code == QueueRequiredCode {
		w.Header().Set("Link", `</api/events/`+eventID+`/queue>; rel="queue"`)
	}
}

-- +goose Up
-- The door's replica also keeps each event's start and end (unix ms, from
-- event.created/updated/cancelled), so that a check-in after the end is
-- refused (result event_ended; events.EventEnded). NULL in rows from
-- before this migration until the event's next message: such an event
-- never reads ended.
ALTER TABLE door_events ADD COLUMN starts_at BIGINT;
ALTER TABLE door_events ADD COLUMN ends_at BIGINT;

-- +goose Down
ALTER TABLE door_events DROP COLUMN ends_at;
ALTER TABLE door_events DROP COLUMN starts_at;

-- +goose Up
-- queue_until is when the waiting room of a queued event closes (unix
-- ms: its onSaleAt + events.QueueOpenAfter), from event.* messages; NULL
-- for an event without one. Until then POST /api/orders {eventId} wants
-- the room's admission (queue.go).
ALTER TABLE sale_events ADD COLUMN queue_until BIGINT;

-- +goose Down
ALTER TABLE sale_events DROP COLUMN queue_until;

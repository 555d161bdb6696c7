-- +goose Up
-- sale_events is orders' replica of each event's times (event.created,
-- updated, cancelled, versioned by the rule of internal/platform/replica),
-- so that POST /api/orders {eventId} refuses an event that has ended
-- (events.EventEnded: status ended is read from the clock, never
-- announced). Times are unix ms, NULL when the message had none; an event orders has no row of (its
-- event.created not here yet) is taken as not ended.
CREATE TABLE sale_events (
    id        TEXT PRIMARY KEY,
    version   BIGINT NOT NULL,
    starts_at BIGINT,
    ends_at   BIGINT
);

-- +goose Down
DROP TABLE sale_events;

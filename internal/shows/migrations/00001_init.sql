-- +goose Up
-- The events. Times are unix ms (UTC); face_value integer cents. search
-- is the folded words of name and venue (textsearch.Text, computed in Go),
-- which the word search matches (00002_search.*). staff is a JSON list of
-- the door staff's lower-cased emails, read and written with the event.
CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    organizer_id       TEXT NOT NULL,
    name               TEXT NOT NULL,
    venue              TEXT NOT NULL,
    search             TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    starts_at          BIGINT NOT NULL,
    ends_at            BIGINT NOT NULL,
    on_sale_at         BIGINT NOT NULL,
    face_value         BIGINT NOT NULL,
    capacity           INTEGER NOT NULL,
    resale_cap_percent INTEGER NOT NULL,
    transfers          BOOLEAN NOT NULL,
    queue              BOOLEAN NOT NULL,
    status             TEXT NOT NULL,
    version            BIGINT NOT NULL,
    staff              TEXT NOT NULL,
    created_at         BIGINT NOT NULL
);

-- The list page: upcoming scheduled events, soonest first.
CREATE INDEX events_upcoming ON events (starts_at, id) WHERE status = 'scheduled';
-- An organizer's "My events".
CREATE INDEX events_organizer ON events (organizer_id, starts_at, id);

-- A replica of the issued tickets (those with an eventId), one small row
-- each, at the version of the last ticket.created/ticket.updated applied
-- (internal/platform/replica): on_sale is whether it counts as left.
CREATE TABLE event_tickets (
    id       TEXT PRIMARY KEY,
    version  BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    on_sale  BOOLEAN NOT NULL
);

-- Each event's tickets on sale, kept in step with event_tickets in the
-- same transaction: a ticket moving on or off sale adds 1 or -1 to one of
-- the event's slots (chosen by the ticket id), so concurrent changes of
-- one event's tickets rarely wait on one row. tickets left = the sum of
-- the event's slots.
CREATE TABLE ticket_counts (
    event_id TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    on_sale  BIGINT NOT NULL,
    issued   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, slot)
);

-- +goose Down
DROP TABLE ticket_counts;
DROP TABLE event_tickets;
DROP TABLE events;

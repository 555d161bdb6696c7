-- +goose Up
-- Issued tickets (DESIGN.md section 9.2): the replica learns each
-- ticket's event (NULL for a free-form listing) and when it goes on sale
-- (unix ms), from ticket.created and ticket.updated. Tickets replicated
-- before this migration are all free-form listings.
ALTER TABLE tickets ADD COLUMN event_id TEXT;
ALTER TABLE tickets ADD COLUMN on_sale_at BIGINT;

-- POST /api/orders {eventId} picks a free ticket of the event: those on
-- sale, from a random id on (ids are evenly spread), so buyers spread
-- over the event's tickets instead of all reaching for the first one.
-- Only tickets on sale are in it: a sold-out event's is empty.
CREATE INDEX tickets_event_on_sale ON tickets (event_id, id) WHERE status = 'on_sale';

-- An event's organizer and on-sale time (any one of its tickets), and
-- whether its tickets were withdrawn (it was cancelled).
CREATE INDEX tickets_event ON tickets (event_id, status) WHERE event_id IS NOT NULL;

-- +goose Down
DROP INDEX tickets_event;
DROP INDEX tickets_event_on_sale;
ALTER TABLE tickets DROP COLUMN on_sale_at;
ALTER TABLE tickets DROP COLUMN event_id;

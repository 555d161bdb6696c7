-- +goose Up
-- Issued tickets (DESIGN.md section 9.2): the replica learns each
-- ticket's event (NULL for a free-form listing) and when it goes on sale
-- (unix ms), from ticket.created and ticket.updated. Tickets replicated
-- before this migration are all free-form listings.
ALTER TABLE tickets ADD COLUMN event_id TEXT;
ALTER TABLE tickets ADD COLUMN on_sale_at BIGINT;

-- picked_order_id is orders' own mark beside the replica's columns (no
-- event sets it): the latest order that took an issued ticket, set in the
-- transaction that inserts the order and cleared in the one that cancels
-- it. The replica's status lags behind the orders table by a ticket.updated
-- (under an on-sale's load, by thousands of tickets), and a paid order no
-- longer counts in orders_unpaid_ticket; with the mark, a ticket is free
-- for an event's pick at once and exactly while no live order has it.
ALTER TABLE tickets ADD COLUMN picked_order_id TEXT;

-- POST /api/orders {eventId} picks a free ticket of the event from a
-- random id on (ids are evenly spread), so buyers spread over the event's
-- tickets instead of all reaching for the first one. Only free tickets
-- are in it: a sold-out event's is empty, and a pick never walks past
-- taken ones.
CREATE INDEX tickets_event_free ON tickets (event_id, id)
    WHERE status = 'on_sale' AND picked_order_id IS NULL;

-- An event's organizer and on-sale time (any one of its tickets), and
-- whether its tickets were withdrawn (it was cancelled).
CREATE INDEX tickets_event ON tickets (event_id, status) WHERE event_id IS NOT NULL;

-- +goose Down
DROP INDEX tickets_event;
DROP INDEX tickets_event_free;
ALTER TABLE tickets DROP COLUMN picked_order_id;
ALTER TABLE tickets DROP COLUMN on_sale_at;
ALTER TABLE tickets DROP COLUMN event_id;

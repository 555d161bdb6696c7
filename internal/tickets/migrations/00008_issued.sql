-- +goose Up
-- Tickets the platform issues for an organizer's event (DESIGN.md section
-- 9.2). event_id is the event (NULL on a free-form listing), on_sale_at
-- when orders may first take it (unix ms). holder_id is the buyer who paid
-- for it (status 'held'); user_id stays the organizer, who sold it.
-- code_version is the version of the holder's code: 1 when first held,
-- and every change of holder or void moves it on, so an older code is dead.
ALTER TABLE tickets ADD COLUMN event_id TEXT;
ALTER TABLE tickets ADD COLUMN on_sale_at BIGINT;
ALTER TABLE tickets ADD COLUMN holder_id TEXT;
ALTER TABLE tickets ADD COLUMN code_version BIGINT NOT NULL DEFAULT 0;

-- An event's tickets, walked in id order when the event is cancelled.
CREATE INDEX tickets_event ON tickets (event_id, id) WHERE event_id IS NOT NULL;

-- A holder's tickets (GET /api/tickets/mine).
CREATE INDEX tickets_holder ON tickets (holder_id, created_at DESC, id DESC) WHERE holder_id IS NOT NULL;

-- An event's unsold stock is not a listing: GET /api/tickets and
-- MAX_LISTINGS count only what is offered for resale
-- (free-form listings, and issued tickets once a holder lists them). The
-- partial indexes take the same condition, so the organizer's 100,000
-- tickets are not in them at all.
DROP INDEX tickets_on_sale;
CREATE INDEX tickets_on_sale ON tickets (created_at DESC, id DESC)
    WHERE order_id IS NULL AND (event_id IS NULL OR holder_id IS NOT NULL);
DROP INDEX tickets_on_sale_price;
CREATE INDEX tickets_on_sale_price ON tickets (price, id)
    WHERE order_id IS NULL AND (event_id IS NULL OR holder_id IS NOT NULL);
DROP INDEX tickets_live_seller;
CREATE INDEX tickets_live_seller ON tickets (user_id)
    WHERE status IN ('on_sale', 'reserved') AND (event_id IS NULL OR holder_id IS NOT NULL);
-- "My listings" are a seller's free-form listings; an issued ticket is
-- there through its holder (tickets_holder), never through its organizer.
DROP INDEX tickets_seller;
CREATE INDEX tickets_seller ON tickets (user_id, created_at DESC, id DESC) WHERE event_id IS NULL;

-- How far the issuing of each event's tickets has come. Issuing runs in
-- chunks, each its own transaction that inserts the next tickets, their
-- ticket.created and the new count together, so a crash or a redelivered
-- event.created resumes after the last chunk committed. cancelled_at (unix
-- ms) is set by event.cancelled, even one that overtakes its
-- event.created: issuing stops, or never starts.
CREATE TABLE event_stock (
    event_id     TEXT PRIMARY KEY,
    capacity     BIGINT NOT NULL,
    issued       BIGINT NOT NULL,
    cancelled_at BIGINT
);

-- +goose Down
DROP TABLE event_stock;
DROP INDEX tickets_seller;
CREATE INDEX tickets_seller ON tickets (user_id, created_at DESC, id DESC);
DROP INDEX tickets_live_seller;
CREATE INDEX tickets_live_seller ON tickets (user_id) WHERE status IN ('on_sale', 'reserved');
DROP INDEX tickets_on_sale_price;
CREATE INDEX tickets_on_sale_price ON tickets (price, id) WHERE order_id IS NULL;
DROP INDEX tickets_on_sale;
CREATE INDEX tickets_on_sale ON tickets (created_at DESC, id DESC) WHERE order_id IS NULL;
DROP INDEX tickets_holder;
DROP INDEX tickets_event;
ALTER TABLE tickets DROP COLUMN code_version;
ALTER TABLE tickets DROP COLUMN holder_id;
ALTER TABLE tickets DROP COLUMN on_sale_at;
ALTER TABLE tickets DROP COLUMN event_id;

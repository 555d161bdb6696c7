-- +goose Up
-- A resale listing that leaves sale because the organizer lowered the
-- resale cap below its price (DESIGN.md 9.3) keeps why, for its holder:
-- withdrawn_reason 'over_resale_cap' and withdrawn_cap, the cap (cents)
-- it was withdrawn under. Both are NULL otherwise, and cleared when the
-- holder lists or unlists the ticket again or it changes holder.
ALTER TABLE tickets ADD COLUMN withdrawn_reason TEXT;
ALTER TABLE tickets ADD COLUMN withdrawn_cap BIGINT;

-- GET /api/tickets?eventId= lists the resale listings of one event, in
-- the list's orders, from these (the event's own stock, up to 100,000
-- tickets, is not in them). The predicate is the query's, word for word,
-- as SQLite matches partial indexes only so.
CREATE INDEX tickets_event_resale ON tickets (event_id, created_at DESC, id DESC)
    WHERE order_id IS NULL AND status = 'on_sale' AND holder_id IS NOT NULL;
CREATE INDEX tickets_event_resale_price ON tickets (event_id, price, id)
    WHERE order_id IS NULL AND status = 'on_sale' AND holder_id IS NOT NULL;

-- +goose Down
DROP INDEX tickets_event_resale_price;
DROP INDEX tickets_event_resale;
ALTER TABLE tickets DROP COLUMN withdrawn_cap;
ALTER TABLE tickets DROP COLUMN withdrawn_reason;

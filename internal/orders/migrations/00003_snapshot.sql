-- +goose Up
-- What the order reserved: the ticket's price (cents) and version at that
-- moment. The order shows and charges this price, never the replica's live
-- one, and tickets checks the version (a seller's edit after it refuses the
-- reservation). Orders from before this migration take the replica's
-- current price and version, the best that is known of them.
ALTER TABLE orders ADD COLUMN ticket_price BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN ticket_version BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET
    ticket_price = (SELECT t.price FROM tickets t WHERE t.id = orders.ticket_id),
    ticket_version = (SELECT t.version FROM tickets t WHERE t.id = orders.ticket_id);

-- Why a cancelled order was cancelled: buyer, expiry, or the reason tickets
-- refused the reservation ('' for orders cancelled before this migration).
ALTER TABLE orders ADD COLUMN cancelled_by TEXT NOT NULL DEFAULT '';

-- The provider's id of payment_id, for the refund request of an order
-- refused after it was paid.
ALTER TABLE orders ADD COLUMN stripe_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE orders DROP COLUMN stripe_id;
ALTER TABLE orders DROP COLUMN cancelled_by;
ALTER TABLE orders DROP COLUMN ticket_version;
ALTER TABLE orders DROP COLUMN ticket_price;

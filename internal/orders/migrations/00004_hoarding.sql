-- +goose Up
-- When the order was paid or cancelled (unix ms, UTC; NULL while it waits
-- for payment, and for orders that ended before this migration): what the
-- buyer's list shows beside the status, and the start of the re-reserve
-- pause (a buyer who cancels an order, or lets it expire, may not reserve
-- the same ticket again for one expiration window, so cancel + re-reserve
-- cannot hold a ticket indefinitely).
ALTER TABLE orders ADD COLUMN ended_at BIGINT;

-- The client address the order was made from (IPv4, or the IPv6 /64), for
-- MAX_PENDING_ORDERS_PER_ADDRESS. NULL for orders made before it existed.
ALTER TABLE orders ADD COLUMN client_addr TEXT;

-- Counting an address's unpaid orders and finding the first to expire (its
-- Retry-After), on every reservation.
CREATE INDEX orders_pending_addr ON orders (client_addr, expires_at)
    WHERE status IN ('created', 'awaiting:payment');

-- The buyer's latest cancelled order for the ticket, on every reservation.
CREATE INDEX orders_cancelled_user_ticket ON orders (user_id, ticket_id, ended_at)
    WHERE status = 'cancelled';

-- +goose Down
DROP INDEX orders_cancelled_user_ticket;
DROP INDEX orders_pending_addr;
ALTER TABLE orders DROP COLUMN client_addr;
ALTER TABLE orders DROP COLUMN ended_at;

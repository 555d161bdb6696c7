-- +goose Up
-- Orders whose payment made their ticket sold or held (order.completed
-- applied). A holder's listing clears the ticket's order_id, so without
-- this a redelivered order.created of such an order would be refused
-- (and orders would refund a buyer who got the ticket), and a redelivered
-- order.completed would wait, as early, for a reservation that never
-- comes. Tickets sold before this migration keep their paying order on
-- the row unless listed since; those orders are recorded here.
CREATE TABLE sold_orders (
    order_id  TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    sold_at   BIGINT NOT NULL
);
INSERT INTO sold_orders (order_id, ticket_id, sold_at)
SELECT order_id, id, COALESCE(sold_at, created_at) FROM tickets
WHERE order_id IS NOT NULL AND status IN ('sold', 'held', 'void');

-- +goose Down
DROP TABLE sold_orders;

-- +goose Up
-- Refunds of a cancelled event's paid orders (DESIGN.md section 9.4).
-- refund_requested_at (unix ms) is when orders asked payments to give the
-- order's payment back (order.refund_requested): set once, in the
-- transaction that writes the event to the outbox, so an order is never
-- asked for twice. refunded_at and refunded (cents) are what payments
-- reported done (payment.refunded). None of them is replicated: the
-- order's version does not move.
ALTER TABLE orders ADD COLUMN refund_requested_at BIGINT;
ALTER TABLE orders ADD COLUMN refunded_at BIGINT;
ALTER TABLE orders ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;

-- The events orders knows were cancelled (event.cancelled), apart from
-- the versioned replica sale_events: a cancellation is final, so it is
-- recorded even when it overtakes the event's earlier versions, and a
-- payment that completes an order of a cancelled event asks for its
-- refund at once.
CREATE TABLE cancelled_events (
    id           TEXT PRIMARY KEY,
    cancelled_at BIGINT NOT NULL
);

-- The paid orders whose refund is still to be asked for, by ticket (the
-- walk over a cancelled event's orders joins its tickets).
CREATE INDEX orders_refundable ON orders (ticket_id)
    WHERE status = 'complete' AND refund_requested_at IS NULL;

-- +goose Down
DROP INDEX orders_refundable;
DROP TABLE cancelled_events;
ALTER TABLE orders DROP COLUMN refunded;
ALTER TABLE orders DROP COLUMN refunded_at;
ALTER TABLE orders DROP COLUMN refund_requested_at;

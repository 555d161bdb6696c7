-- +goose Up
-- The replica of tickets: what an order shows of its ticket. version is the
-- one tickets published; it is only ever set from an event.
CREATE TABLE tickets (
    id      TEXT PRIMARY KEY,
    title   TEXT NOT NULL,
    price   BIGINT NOT NULL,
    version BIGINT NOT NULL
);

-- Times are unix milliseconds, UTC.
CREATE TABLE orders (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    status     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- At most one order holds a ticket: two buyers racing for it both INSERT and
-- the database lets exactly one commit.
CREATE UNIQUE INDEX orders_active_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting:payment', 'complete');

-- Counting a user's unpaid orders (MAX_PENDING_ORDERS) on every reservation.
CREATE INDEX orders_pending_user ON orders (user_id)
    WHERE status IN ('created', 'awaiting:payment');

-- A user's orders, newest first.
CREATE INDEX orders_user_created ON orders (user_id, created_at);

-- +goose Down
DROP TABLE orders;
DROP TABLE tickets;

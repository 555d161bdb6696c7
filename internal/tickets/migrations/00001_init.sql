-- +goose Up
-- The tickets: the source of truth. price is integer cents, created_at unix
-- ms. order_id is the order holding the ticket, NULL while it is on sale.
-- title_search is strings.ToLower(title), computed in Go, so the title search
-- is the same case-insensitive match on SQLite (whose lower() knows only
-- ASCII) and PostgreSQL.
CREATE TABLE tickets (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    title_search TEXT NOT NULL,
    price        BIGINT NOT NULL,
    user_id      TEXT NOT NULL,
    version      BIGINT NOT NULL,
    order_id     TEXT,
    created_at   BIGINT NOT NULL
);

-- The list page: tickets on sale, newest first.
CREATE INDEX tickets_on_sale ON tickets (created_at DESC, id DESC) WHERE order_id IS NULL;

-- Orders whose order.cancelled has been handled. order.created and
-- order.cancelled arrive on separate consumers, so a cancellation can be
-- handled before (or, on redelivery, again after) its creation; an
-- order.created for an order listed here is stale and must not reserve the
-- ticket for an order that no longer exists.
CREATE TABLE released_orders (
    order_id    TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL,
    released_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE released_orders;
DROP TABLE tickets;

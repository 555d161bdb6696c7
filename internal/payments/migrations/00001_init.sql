-- +goose Up
-- The replica of orders: what a payment needs to know of its order. version
-- is the one orders published; it is only ever set from an event.
-- charge_attempts numbers the claims made for the order, so each attempt
-- after a decline gets an idempotency key of its own. Times are unix ms.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    price           BIGINT NOT NULL,
    status          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    charge_attempts BIGINT NOT NULL DEFAULT 0
);

-- One payment per order, ever: the UNIQUE constraint is what makes two
-- payments of one order sent at the same moment charge once. A row is
-- 'pending' (claimed, the charge may be in flight: claimed_until is the
-- lease), 'succeeded' (charged; stripe_id is the provider's id) or
-- 'refunded'. A declined claim is deleted, so the order stays payable.
-- token and amount are kept with the idempotency key so that a claim left
-- pending by a crash is resolved by replaying exactly the same request.
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    token           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    stripe_id       TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE payments;
DROP TABLE orders;

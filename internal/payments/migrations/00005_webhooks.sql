-- +goose Up
-- Numbered 00010, not 00003, to leave room for the ledger's migrations
-- being written beside it.
--
-- Stripe events already processed (webhook.go): a redelivery of one is
-- answered 200 and does nothing. received_at is unix ms.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- Disputes of charges (charge.dispute.created), one row per dispute, by
-- Stripe's id. A payout run skips an order with a dispute here (payouts
-- are not built yet). charge_id is what the provider named in the
-- dispute; amount is cents.
CREATE TABLE disputes (
    id         TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    charge_id  TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX disputes_order ON disputes (order_id);

-- A dispute names the charge: find its payment by the provider's id.
CREATE INDEX payments_stripe_id ON payments (stripe_id) WHERE stripe_id <> '';

-- +goose Down
DROP INDEX payments_stripe_id;
DROP TABLE disputes;
DROP TABLE webhook_events;

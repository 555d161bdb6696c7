-- +goose Up
-- Payout accounts (DESIGN.md section 9.4): one per user, at the provider
-- that created it ('sandbox' or 'stripe'; account_id is the provider's id,
-- a Stripe Connect Express acct_...). status is 'pending' until the
-- provider says payouts can be made to it, then 'enabled'. return_url and
-- refresh_url are the web client's pages a Stripe onboarding link sends
-- the user back to; a fresh link is made from them whenever a pending
-- account is read (Stripe's links expire within minutes). Times are unix
-- ms.
CREATE TABLE payout_accounts (
    user_id     TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    account_id  TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    return_url  TEXT NOT NULL DEFAULT '',
    refresh_url TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- When an order's proceeds become due (the balance's held and available):
-- the end of the order's event plus PAYOUT_HOLD. order.created names the
-- event (event_id, '' for a free-form listing, and for orders replicated
-- before this migration, which are then due from their sale); the event's
-- times come from event.created/updated/cancelled into the replica below
-- (times unix ms, 0 when absent; version as the events part published it).
ALTER TABLE orders ADD COLUMN event_id TEXT NOT NULL DEFAULT '';

CREATE TABLE sale_events (
    id        TEXT PRIMARY KEY,
    version   BIGINT NOT NULL,
    starts_at BIGINT NOT NULL DEFAULT 0,
    ends_at   BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE sale_events;
ALTER TABLE orders DROP COLUMN event_id;
DROP TABLE payout_accounts;

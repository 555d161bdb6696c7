-- +goose Up
-- Payouts (DESIGN.md section 9.4): one per order, ever (the primary key).
-- A row is 'pending' from the claim, in the transaction before the
-- transfer, while the transfer may be in flight (claimed_until is the
-- lease: a run replays a pending row only after it), then 'paid', in the
-- transaction that writes the ledger's 'payout-<order id>'. The transfer
-- is made under idempotency_key (that ledger transaction's id), so a run
-- cut short and replayed gets the first transfer back instead of paying
-- again. payee_id is whose proceeds they are, account the ledger payable,
-- destination the provider's payout account, charge_id the provider's id
-- of the charge (the transfer's source). Times are unix ms.
CREATE TABLE payouts (
    order_id        TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL,
    payee_id        TEXT NOT NULL,
    account         TEXT NOT NULL,
    destination     TEXT NOT NULL,
    charge_id       TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    transfer_id     TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- Pending payouts are few; a run replays them first.
CREATE INDEX payouts_pending ON payouts (claimed_until) WHERE status = 'pending';

-- A cancelled event's sales are refunded, never paid out: the replica of
-- events keeps whether it was cancelled (0 or 1).
ALTER TABLE sale_events ADD COLUMN cancelled BIGINT NOT NULL DEFAULT 0;

-- A payout run of one event finds its orders by the event.
CREATE INDEX orders_event ON orders (event_id) WHERE event_id <> '';

-- +goose Down
DROP INDEX orders_event;
ALTER TABLE sale_events DROP COLUMN cancelled;
DROP INDEX payouts_pending;
DROP TABLE payouts;

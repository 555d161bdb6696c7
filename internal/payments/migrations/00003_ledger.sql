-- +goose Up
-- What the order replica learns from order.created since fees (DESIGN.md
-- section 9.4): the buyer's service fee in cents (the charge is price +
-- fee), whose proceeds the price is (seller_id) and as what (payee:
-- 'seller', or 'organizer' for an event's ticket bought from its
-- organizer). Orders replicated before this migration had no fee and name
-- no seller ('').
ALTER TABLE orders ADD COLUMN fee BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN seller_id TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payee TEXT NOT NULL DEFAULT '';

-- The double-entry ledger, in integer cents. A transaction (one charge,
-- one refund, later one payout) is a set of entries whose amounts sum to
-- zero: a debit is positive, a credit negative. Accounts are names:
-- 'cash' (the buyers' money the platform holds at the processor),
-- 'platform_fees', 'seller_payable:<user id>', 'organizer_payable:<user
-- id>', 'processor_fees'. A transaction's id says what it records and
-- makes it happen once: 'charge-<payment id>', 'refund-<payment id>'.
-- Each is written in the same database transaction as the payment's
-- status change it records.
CREATE TABLE ledger_transactions (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One charge and at most one refund per order, whatever the ids say.
CREATE UNIQUE INDEX ledger_one_per_order ON ledger_transactions (order_id, kind)
    WHERE kind IN ('charge', 'refund');

-- A payment's and an order's transactions (ticketing check, per payment
-- and per paid order; SQLite uses the partial index above only for a
-- query that repeats its predicate).
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id, kind);
CREATE INDEX ledger_transactions_order ON ledger_transactions (order_id, kind);

CREATE TABLE ledger_entries (
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    line           BIGINT NOT NULL,
    account        TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, line)
);

-- An account's balance (ticketing check, later payouts).
CREATE INDEX ledger_entries_account ON ledger_entries (account);

-- Payments charged before the ledger existed get their charge (and
-- refund) now: the whole amount was the price (no fee then), owed to a
-- seller the replica never learned ('seller_payable:').
INSERT INTO ledger_transactions (id, kind, order_id, payment_id, created_at)
    SELECT 'charge-' || id, 'charge', order_id, id, updated_at FROM payments
    WHERE status IN ('succeeded', 'refunded');
INSERT INTO ledger_entries (transaction_id, line, account, amount)
    SELECT 'charge-' || id, 1, 'cash', amount FROM payments
    WHERE status IN ('succeeded', 'refunded');
INSERT INTO ledger_entries (transaction_id, line, account, amount)
    SELECT 'charge-' || id, 2, 'seller_payable:', -amount FROM payments
    WHERE status IN ('succeeded', 'refunded');
INSERT INTO ledger_transactions (id, kind, order_id, payment_id, created_at)
    SELECT 'refund-' || id, 'refund', order_id, id, updated_at FROM payments
    WHERE status = 'refunded';
INSERT INTO ledger_entries (transaction_id, line, account, amount)
    SELECT 'refund-' || id, 1, 'cash', -amount FROM payments WHERE status = 'refunded';
INSERT INTO ledger_entries (transaction_id, line, account, amount)
    SELECT 'refund-' || id, 2, 'seller_payable:', amount FROM payments WHERE status = 'refunded';

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
ALTER TABLE orders DROP COLUMN payee;
ALTER TABLE orders DROP COLUMN seller_id;
ALTER TABLE orders DROP COLUMN fee;

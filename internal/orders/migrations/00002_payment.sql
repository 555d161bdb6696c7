-- +goose Up
-- The payment that completed the order (or, for an order cancelled before
-- its payment arrived, the payment whose refund was requested): a
-- redelivered payment.created is recognised and changes nothing.
ALTER TABLE orders ADD COLUMN payment_id TEXT;

-- +goose Down
ALTER TABLE orders DROP COLUMN payment_id;

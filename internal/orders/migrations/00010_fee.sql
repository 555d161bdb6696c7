-- +goose Up
-- The buyer's service fee in cents (DESIGN.md section 9.4), computed from
-- ticket_price when the order is made and never again: the order shows,
-- and payments charges, ticket_price + fee. Orders from before this
-- migration had no fee.
ALTER TABLE orders ADD COLUMN fee BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE orders DROP COLUMN fee;

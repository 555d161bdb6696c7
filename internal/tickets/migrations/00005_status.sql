-- +goose Up
-- Where a ticket is in its life (DESIGN.md section 3): 'on_sale',
-- 'reserved' (order_id holds it), 'sold' (order_id paid for it: final) or
-- 'withdrawn' (its seller took it off sale: final). sold_at is when the
-- sale was learned (order.completed), unix ms. Existing tickets held by an
-- order are reserved; whether any of those was paid is not known here and
-- is learned from the order.completed orders publishes from now on.
ALTER TABLE tickets ADD COLUMN status TEXT NOT NULL DEFAULT 'on_sale';
ALTER TABLE tickets ADD COLUMN sold_at BIGINT;
UPDATE tickets SET status = 'reserved' WHERE order_id IS NOT NULL;

-- +goose Down
ALTER TABLE tickets DROP COLUMN sold_at;
ALTER TABLE tickets DROP COLUMN status;

-- +goose Up
-- A payee's payouts, newest first (GET /api/payments/payouts, the
-- Payouts page), a page at a time.
CREATE INDEX payouts_payee ON payouts (payee_id, created_at, order_id);

-- +goose Down
DROP INDEX payouts_payee;

-- +goose Up
-- The sweep's query: unpaid orders well past their expiry (Service.Sweep),
-- oldest first. Only unpaid orders are in it, so it stays as small as the
-- orders waiting for payment.
CREATE INDEX orders_unpaid_expires ON orders (expires_at)
    WHERE status IN ('created', 'awaiting:payment');

-- +goose Down
DROP INDEX orders_unpaid_expires;

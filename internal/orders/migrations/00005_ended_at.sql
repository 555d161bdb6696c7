-- +goose Up
-- When the order was paid or cancelled (unix milliseconds, UTC): what the
-- buyer's list shows beside the status. NULL while the order waits for
-- payment, and for orders that ended before this migration.
ALTER TABLE orders ADD COLUMN ended_at BIGINT;

-- +goose Down
ALTER TABLE orders DROP COLUMN ended_at;

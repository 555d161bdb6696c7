-- +goose Up
-- A seller's own listings (GET /api/tickets/mine), newest first.
CREATE INDEX tickets_seller ON tickets (user_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX tickets_seller;

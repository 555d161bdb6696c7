-- +goose Up
-- The reconciler looks for pending claims every few seconds; they are a
-- handful among every payment ever made, so index only them.
CREATE INDEX payments_pending ON payments (updated_at) WHERE status = 'pending';

-- +goose Down
DROP INDEX payments_pending;

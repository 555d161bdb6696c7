-- +goose Up
-- MAX_LISTINGS counts a seller's live listings (on sale or reserved) now
-- that tickets have a status: a reserved ticket may come back on sale, and
-- a sold or withdrawn one never will.
DROP INDEX tickets_on_sale_seller;
CREATE INDEX tickets_live_seller ON tickets (user_id) WHERE status IN ('on_sale', 'reserved');

-- +goose Down
DROP INDEX tickets_live_seller;
CREATE INDEX tickets_on_sale_seller ON tickets (user_id) WHERE order_id IS NULL;

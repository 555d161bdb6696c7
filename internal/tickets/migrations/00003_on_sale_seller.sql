-- +goose Up
-- Counting a seller's tickets on sale (MAX_LISTINGS) on every new listing.
CREATE INDEX tickets_on_sale_seller ON tickets (user_id) WHERE order_id IS NULL;

-- +goose Down
DROP INDEX tickets_on_sale_seller;

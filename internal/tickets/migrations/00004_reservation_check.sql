-- +goose Up
-- edited_version is the version the seller's last change of title or price
-- produced. An order.created that reserved an older version saw another
-- offer and is refused (ticket.reservation_refused). The edit history of
-- existing tickets is unknown, so they start at their current version: an
-- order that reserved an older one is refused rather than risk a price it
-- was not shown. (Orders from before the upgrade carry no version and are
-- checked by price.)
ALTER TABLE tickets ADD COLUMN edited_version BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET edited_version = version;

-- Orders whose order.created was refused: a redelivery finds the answer
-- given and publishes nothing new.
CREATE TABLE refused_orders (
    order_id   TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    refused_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE refused_orders;
ALTER TABLE tickets DROP COLUMN edited_version;

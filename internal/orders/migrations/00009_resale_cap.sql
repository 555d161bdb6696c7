-- +goose Up
-- The resale cap at order time (DESIGN.md 9.3): an order for a holder's
-- resale listing priced above floor(face_value × resale_cap_percent /
-- 100) is refused. sale_events keeps both from event.created/updated/
-- cancelled (NULL in rows from before this migration until the event's
-- next message: no cap is checked then), and the ticket replica whether
-- a ticket is a resale listing (ticket.updated's resale).
ALTER TABLE sale_events ADD COLUMN face_value BIGINT;
ALTER TABLE sale_events ADD COLUMN resale_cap_percent BIGINT;
ALTER TABLE tickets ADD COLUMN resale BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE tickets DROP COLUMN resale;
ALTER TABLE sale_events DROP COLUMN resale_cap_percent;
ALTER TABLE sale_events DROP COLUMN face_value;

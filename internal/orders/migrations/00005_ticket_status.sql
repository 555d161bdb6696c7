-- +goose Up
-- The replica keeps the ticket's status (on_sale, reserved, sold,
-- withdrawn, from ticket.created and ticket.updated) and its seller:
-- whether a ticket may be ordered comes from its status, and a seller may
-- not order their own ticket. Tickets replicated before this migration
-- take the status their orders imply; their seller is learned from their
-- next ticket.updated.
ALTER TABLE tickets ADD COLUMN status TEXT NOT NULL DEFAULT 'on_sale';
ALTER TABLE tickets ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
UPDATE tickets SET status = 'reserved'
    WHERE id IN (SELECT ticket_id FROM orders WHERE status IN ('created', 'awaiting:payment'));
UPDATE tickets SET status = 'sold'
    WHERE id IN (SELECT ticket_id FROM orders WHERE status = 'complete');

-- At most one unpaid order holds a ticket: two buyers racing for it both
-- INSERT and the database lets exactly one commit. A paid order no longer
-- counts, so a ticket sold once can be ordered again when it is resold
-- (DESIGN.md section 9); until then its status (sold) refuses orders.
DROP INDEX orders_active_ticket;
CREATE UNIQUE INDEX orders_unpaid_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting:payment');

-- +goose Down
DROP INDEX orders_unpaid_ticket;
CREATE UNIQUE INDEX orders_active_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting:payment', 'complete');
ALTER TABLE tickets DROP COLUMN user_id;
ALTER TABLE tickets DROP COLUMN status;

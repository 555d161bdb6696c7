-- +goose Up
-- Transfers and history of issued tickets (DESIGN.md 9.3).
--
-- The replica of each event also keeps whether its organizer allows
-- transfers. Events replicated before this migration read false until
-- their next message (event.updated or cancelled): a transfer is refused
-- rather than allowed on a guess.
ALTER TABLE door_events ADD COLUMN transfers BOOLEAN NOT NULL DEFAULT FALSE;

-- A holder's offer to pass a ticket on to an email; the account with that
-- email (by its session token) accepts it. status is 'pending',
-- 'accepted' or 'cancelled' (cancelled_by: 'sender', 'transfers_off' or
-- 'event_cancelled'). A ticket has at most one pending transfer
-- (transfers_pending_ticket). to_email and from_email are lower-cased;
-- times are unix ms.
CREATE TABLE transfers (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    from_user_id TEXT NOT NULL,
    from_email   TEXT NOT NULL,
    to_email     TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    settled_at   BIGINT,
    to_user_id   TEXT,
    cancelled_by TEXT
);
CREATE UNIQUE INDEX transfers_pending_ticket ON transfers (ticket_id) WHERE status = 'pending';
CREATE INDEX transfers_pending_to ON transfers (to_email, created_at) WHERE status = 'pending';
CREATE INDEX transfers_pending_from ON transfers (from_user_id, created_at) WHERE status = 'pending';
CREATE INDEX transfers_pending_event ON transfers (event_id) WHERE status = 'pending';

-- A ticket's history: one row per code it was issued (code_version),
-- written in the transaction of the change that issued it: who held it
-- from then (holder_id), when (at, unix ms) and why ('issued' by a paid
-- primary sale, 'resold', 'transferred', or 'voided' when its event was
-- cancelled). Every such change moves the code version on, so
-- (ticket_id, code_version) names an entry.
CREATE TABLE ticket_history (
    ticket_id    TEXT NOT NULL,
    code_version BIGINT NOT NULL,
    holder_id    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, code_version)
);
-- A holder's entries (the history a former holder may read).
CREATE INDEX ticket_history_holder ON ticket_history (holder_id, ticket_id);

-- Tickets held before history was kept get one entry for their holder as
-- of the sale: 'issued' at code version 1, 'resold' after (transfers did
-- not exist), 'voided' for a void ticket.
INSERT INTO ticket_history (ticket_id, code_version, holder_id, reason, at)
SELECT id, code_version, holder_id,
       CASE WHEN status = 'void' THEN 'voided' WHEN code_version = 1 THEN 'issued' ELSE 'resold' END,
       COALESCE(sold_at, created_at)
FROM tickets WHERE holder_id IS NOT NULL AND code_version > 0;

-- +goose Down
DROP TABLE ticket_history;
DROP TABLE transfers;
ALTER TABLE door_events DROP COLUMN transfers;

-- +goose Up
-- Entry codes and check-in (DESIGN.md section 9.2).
--
-- entry_codes keeps the short form of every code issued to a holder, one
-- row per (ticket, code_version), so a door that types an old short form
-- learns that it is void rather than unknown. The short form is the
-- primary key: two codes that share one (about n²/2⁶¹ among n codes) are
-- refused, and the issuer moves on to the next code_version.
CREATE TABLE entry_codes (
    short        TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL,
    code_version BIGINT NOT NULL
);

-- checkins holds a ticket's admission: one row per ticket, so of two
-- doors that scan one code at once only one inserts it (admitted) and the
-- other finds it (already_used). by_user_id and by_email are who scanned.
CREATE TABLE checkins (
    ticket_id     TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL,
    code_version  BIGINT NOT NULL,
    by_user_id    TEXT NOT NULL,
    by_email      TEXT NOT NULL,
    checked_in_at BIGINT NOT NULL
);

-- door_events is tickets' replica of each event (event.created, updated,
-- cancelled, versioned by the rule of internal/platform/replica): who may
-- check in to it. staff is the lower-cased emails of its door staff, one
-- a line.
CREATE TABLE door_events (
    id           TEXT PRIMARY KEY,
    version      BIGINT NOT NULL,
    organizer_id TEXT NOT NULL,
    staff        TEXT NOT NULL,
    status       TEXT NOT NULL
);

-- +goose Down
DROP TABLE door_events;
DROP TABLE checkins;
DROP TABLE entry_codes;

-- +goose Up
-- Resale of issued tickets (DESIGN.md section 9.3): a holder's listing
-- price must not exceed floor(face_value × resale_cap_percent / 100), so
-- the replica of each event keeps both (cents, and percent; DESIGN.md's
-- default is 100). Events replicated before this migration take the face
-- value their tickets were issued at until their next event.updated.
ALTER TABLE door_events ADD COLUMN face_value BIGINT NOT NULL DEFAULT 0;
ALTER TABLE door_events ADD COLUMN resale_cap_percent BIGINT NOT NULL DEFAULT 100;
UPDATE door_events SET face_value = COALESCE(
    (SELECT max(t.price) FROM tickets t WHERE t.event_id = door_events.id), 0);

-- +goose Down
ALTER TABLE door_events DROP COLUMN resale_cap_percent;
ALTER TABLE door_events DROP COLUMN face_value;

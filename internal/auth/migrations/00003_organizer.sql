-- +goose Up
-- An organizer may create events (DESIGN.md section 9.1). Only an operator
-- sets it (`ticketing admin organizer grant|revoke EMAIL`); the session
-- token carries it from the user's next sign-in.
ALTER TABLE users ADD COLUMN organizer BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN organizer;

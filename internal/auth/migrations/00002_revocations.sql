-- +goose Up
-- Sessions ended before their tokens expire. A sign-out is one row whose id
-- is the token's id (so signing out the same token twice adds nothing); a
-- sign-out everywhere is a row with not_before (unix ms, a whole second):
-- every token of the user issued before it is dead. A row is kept until
-- expires_at (unix ms), when every token it names has expired anyway.
CREATE TABLE revocations (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    token_id   TEXT,
    not_before BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);

-- +goose Down
DROP TABLE revocations;

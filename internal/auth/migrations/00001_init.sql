-- +goose Up
-- Accounts. email is stored trimmed and lower-cased, so the unique index
-- makes two sign-ups that differ only in case (or race each other) collide.
-- password_hash is an argon2id PHC string; created_at is unix milliseconds UTC.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- +goose Down
DROP TABLE users;

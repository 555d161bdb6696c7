-- +goose Up
-- Events waiting to be published. A row is written in the same transaction
-- as the change it announces and deleted once JetStream has stored it.
-- claimed_until (unix ms) is a lease: a relay that claimed a row and died
-- leaves it to another replica once the lease runs out.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE outbox;
